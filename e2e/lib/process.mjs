// Child-process helpers for e2e tests.
//
//   const srv = await spawnAndWait('node', ['e2e/oidc/server.mjs'], {
//     env: { OIDC_PORT: '0', ... },
//     ready: /^oidc-provider listening on (http:\/\/\S+)$/,
//     timeoutMs: 15_000,
//   });
//   srv.match[1]      // captured issuer URL
//   await srv.stop(); // SIGTERM, then SIGKILL after a grace period
//
// finlink prints `finlink listening on http://ADDR`; use FINLINK_READY_RE.
//
// With node:test, register the cleanup with `t.after(() => srv.stop())` (or an
// `after()` hook) so the child is killed even when an assertion fails.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const FINLINK_READY_RE = /^finlink listening on (http:\/\/\S+)\s*$/;
export const OIDC_READY_RE = /^oidc-provider listening on (http:\/\/\S+)\s*$/;

const live = new Set();
// Last-resort cleanup if a test forgets to stop a child. Only our own children.
process.once('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Spawn `cmd args` and resolve once a stdout line matches `ready`.
 *
 * @param {string} cmd
 * @param {string[]} args
 * @param {object} [opts]
 * @param {RegExp} opts.ready            regex tested against each stdout line (required)
 * @param {number} [opts.timeoutMs=30000]
 * @param {Record<string,string>} [opts.env]   merged over process.env
 * @param {string} [opts.cwd]
 * @param {string} [opts.name]            label used in logs/errors (default: basename of cmd)
 * @param {boolean} [opts.echo]           mirror the child's stdout/stderr to our stderr,
 *                                        prefixed by name (default: env E2E_ECHO=1)
 * @returns {Promise<{child, match: RegExpMatchArray, lines: string[], stderr: () => string,
 *                    stdoutLines: string[], waitForLine: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>,
 *                    stop: (graceMs?: number) => Promise<{code: number|null, signal: string|null}>}>}
 */
export async function spawnAndWait(cmd, args = [], opts = {}) {
  const {
    ready, timeoutMs = 30_000, env = {}, cwd, name = cmd.split('/').pop(),
    echo = process.env.E2E_ECHO === '1',
  } = opts;
  if (!(ready instanceof RegExp)) throw new TypeError('spawnAndWait: opts.ready must be a RegExp');

  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  // Don't let a forgotten child keep the test process alive: the event loop
  // may exit with it still running, and the 'exit' hook above SIGKILLs it.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  const stdoutLines = [];
  let stderrBuf = '';
  const waiters = new Set();
  let exited = null;

  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    stdoutLines.push(line);
    if (echo) process.stderr.write(`[${name}] ${line}\n`);
    for (const w of waiters) {
      const m = line.match(w.re);
      if (m) { waiters.delete(w); w.resolve(m); }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrBuf += chunk;
    if (stderrBuf.length > 1_000_000) stderrBuf = stderrBuf.slice(-500_000);
    if (echo) process.stderr.write(chunk.replace(/^(?=.)/gm, `[${name}!] `));
  });

  let resolveExit;
  const exitPromise = new Promise((resolve) => { resolveExit = resolve; });
  const markExited = (code, signal, error) => {
    if (exited) return;
    exited = { code, signal };
    live.delete(child);
    for (const w of waiters) {
      w.reject(error ?? new Error(`${name} exited (code=${code}, signal=${signal}) before printing a line matching ${w.re}\n`
        + `--- stdout ---\n${stdoutLines.join('\n')}\n--- stderr ---\n${stderrBuf}`));
    }
    waiters.clear();
    resolveExit(exited);
  };
  child.once('exit', (code, signal) => markExited(code, signal));
  // Spawn failures (ENOENT, EACCES) emit 'error' and never 'exit'.
  child.once('error', (err) => { if (child.pid === undefined) markExited(null, null, err); });

  function waitForLine(re, ms = timeoutMs) {
    // Lines already seen count too.
    for (const line of stdoutLines) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    if (exited) return Promise.reject(new Error(`${name} already exited (${JSON.stringify(exited)})`));
    return new Promise((resolve, reject) => {
      const w = { re, resolve, reject };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out after ${ms} ms waiting for ${name} to print a line matching ${re}\n`
          + `--- stdout ---\n${stdoutLines.join('\n')}\n--- stderr ---\n${stderrBuf}`));
      }, ms);
      w.resolve = (m) => { clearTimeout(timer); resolve(m); };
      w.reject = (e) => { clearTimeout(timer); reject(e); };
      waiters.add(w);
    });
  }

  async function stop(graceMs = 5_000) {
    if (exited) return exited;
    child.ref(); // keep the loop alive until the 'exit' event arrives
    child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, graceMs);
    const res = await exitPromise;
    clearTimeout(timer);
    return res;
  }

  let match;
  try {
    match = await waitForLine(ready, timeoutMs);
  } catch (err) {
    await stop(1_000);
    throw err;
  }

  return {
    child,
    pid: child.pid,
    match,
    stdoutLines,
    stderr: () => stderrBuf,
    waitForLine,
    exited: exitPromise,
    stop,
  };
}
