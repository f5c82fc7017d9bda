//! `sqlx::migrate!` embeds `migrations/` when the crate compiles; a new or changed migration file
//! alone does not make cargo recompile it (sqlx documents this), so a binary could start without
//! it. This tells cargo to.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
