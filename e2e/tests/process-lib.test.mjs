// Self-test of e2e/lib/process.mjs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { FINLINK_READY_RE, spawnAndWait } from '../lib/process.mjs';

const node = process.execPath;

describe('lib/process.mjs', () => {
  it('resolves on the ready line, captures groups, and stops the child', async (t) => {
    const p = await spawnAndWait(node, ['-e', `
      console.error('noise on stderr');
      console.log('booting');
      setTimeout(() => console.log('finlink listening on http://127.0.0.1:4567'), 50);
      setTimeout(() => console.log('later line'), 100);
      setInterval(() => {}, 1000);`], { ready: FINLINK_READY_RE, timeoutMs: 5000 });
    t.after(() => p.stop());
    assert.equal(p.match[1], 'http://127.0.0.1:4567');
    assert.equal((await p.waitForLine(/^later (\w+)$/))[1], 'line');
    assert.match(p.stderr(), /noise on stderr/);
    const res = await p.stop();
    assert.equal(res.signal, 'SIGTERM');
  });

  it('a forgotten child does not keep the test process alive', async () => {
    const { spawnSync } = await import('node:child_process');
    const lib = new URL('../lib/process.mjs', import.meta.url).href;
    const script = `
      const { spawnAndWait } = await import(${JSON.stringify(lib)});
      const p = await spawnAndWait(process.execPath, ['-e', 'console.log("ready " + process.pid); setInterval(() => {}, 1000)'], { ready: /^ready (\\d+)$/ });
      console.log(p.match[1]);`;
    const r = spawnSync(node, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    const pid = Number(r.stdout.trim());
    assert.ok(pid > 0, r.stdout);
    // Gone, or a zombie waiting for init to reap it (state Z), but not running.
    let state = 'gone';
    for (let i = 0; i < 20; i++) {
      try {
        state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
      } catch { state = 'gone'; }
      if (state === 'gone' || state === 'Z') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(state === 'gone' || state === 'Z', `orphaned child still running (state ${state})`);
  });

  it('rejects with the output when the child exits first', async () => {
    await assert.rejects(
      spawnAndWait(node, ['-e', 'console.log("nope"); console.error("boom"); process.exit(3)'], { ready: /ready/ }),
      (err) => /exited \(code=3/.test(err.message) && /nope/.test(err.message) && /boom/.test(err.message),
    );
  });

  it('times out and kills a child that never gets ready (SIGKILL if SIGTERM is ignored)', async () => {
    const started = Date.now();
    await assert.rejects(
      spawnAndWait(node, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], { ready: /ready/, timeoutMs: 300 }),
      /timed out after 300 ms/,
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('rejects when the command does not exist', async () => {
    await assert.rejects(spawnAndWait('/nonexistent/finlink', [], { ready: /x/ }), /ENOENT/);
  });
});
