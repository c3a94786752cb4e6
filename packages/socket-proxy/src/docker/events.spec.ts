import type { Scope } from './config';
import { eventScopeFilter } from './events';

const single: Scope = { selector: 'org.devsec.scope=unit', anyOf: [{ key: 'org.devsec.scope', value: 'unit', selector: 'org.devsec.scope=unit' }] };
const project = { key: 'com.docker.compose.project', value: 'stack-a', selector: 'com.docker.compose.project=stack-a' };
const shared = { key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' };
const stackScope: Scope = { selector: `${project.selector},${shared.selector}`, anyOf: [project, shared] };

describe('eventScopeFilter', () => {
  const run = async (scope: Pick<Scope, 'anyOf'>, events: unknown[]) => {
    const bytes = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join('') + 'not json\n');
    const filter = eventScopeFilter(scope);
    let out = '';
    filter.on('data', (chunk: Buffer) => (out += chunk));
    for (let at = 0; at < bytes.length; at += 7) filter.write(bytes.subarray(at, at + 7));
    filter.end();
    await new Promise((resolve) => filter.on('end', resolve));
    return out;
  };

  it('keeps whole lines of in-scope container events, across chunk and character boundaries', async () => {
    const events = [
      { Type: 'container', Action: 'start', Actor: { Attributes: { name: 'mine-é', 'org.devsec.scope': 'unit' } } },
      { Type: 'container', Action: 'start', Actor: { Attributes: { name: 'theirs' } } },
      { Type: 'network', Action: 'connect', Actor: { Attributes: { 'org.devsec.scope': 'unit' } } },
    ];
    expect(await run(single, events)).toBe(`${JSON.stringify(events[0])}\n`);
  });

  it("keeps events of any selector's containers, and hides the command line of exec events", async () => {
    const event = (name: string, labels: Record<string, string>, action = 'start') => ({
      status: action,
      id: name,
      Type: 'container',
      Action: action,
      Actor: { ID: name, Attributes: { name, ...labels } },
    });
    const out = await run(stackScope, [
      event('a1', { 'com.docker.compose.project': 'stack-a' }),
      event('s1', { 'org.devsec.scope': 'dev' }, "exec_create: sh -c 'echo hunter2'"),
      event('s1', { 'org.devsec.scope': 'dev' }, 'exec_start: sh -c echo hunter2'),
      event('s1', { 'org.devsec.scope': 'dev' }, 'health_status: healthy'),
      event('b1', { 'com.docker.compose.project': 'stack-b' }),
    ]);
    const kept = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(kept.map((e) => `${e.Actor.ID} ${e.Action} | ${e.status}`)).toEqual([
      'a1 start | start',
      's1 exec_create: <redacted> | exec_create: <redacted>',
      's1 exec_start: <redacted> | exec_start: <redacted>',
      's1 health_status: healthy | health_status: healthy',
    ]);
    expect(out).not.toContain('hunter2');
  });
});
