//! A client's profile: branding and the Link redirect.

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    pub redirect_url: String,
    pub logo_url: Option<String>,
    pub icon_url: Option<String>,
    pub white_list_urls: Vec<String>,
    pub confirm_company_name: bool,
}
