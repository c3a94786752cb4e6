import { stampManaged } from './managed-file';
import { SHARED_MARKER_NOTE, sharedFileTrust } from './shared-trust';

const SHARED = 'docker-compose.shared.yml';
const BODY = '# our comment\nname: ws-shared\nx-devsec:\n  project: infra\nservices:\n  redis:\n    image: redis:7\n';
const stamped = stampManaged(SHARED, BODY, SHARED_MARKER_NOTE);

describe('sharedFileTrust', () => {
  it('trusts a file shared-service stamped, and names its project', () => {
    expect(sharedFileTrust(stamped)).toEqual({ trusted: true, infraProject: 'infra' });
  });

  it('still trusts it after comment and formatting edits: the fingerprint is over the meaning', () => {
    expect(sharedFileTrust(stamped.replace('# our comment', '# reworded').replace('image: redis:7', "image: 'redis:7'"))).toMatchObject({ trusted: true });
  });

  it.each<[string, string | null, string, RegExp]>([
    ['a missing file', null, 'absent', /does not exist/],
    ['a file without the marker', BODY, 'unmarked', /has no "@org\/devsec managed file" line.*nx migrate.*shared-service/],
    [
      'an edited file',
      stamped.replace('redis:7', 'redis:8'),
      'edited',
      /edited after @org\/devsec wrote it.*git diff docker-compose\.shared\.yml.*stamps the file again/,
    ],
    ['a file naming no project', stampManaged(SHARED, 'services: {}\n'), 'unowned', /names no Nx project under x-devsec\.project/],
  ])('says why it does not trust %s', (_, content, reason, message) => {
    const trust = sharedFileTrust(content);
    expect(trust).toMatchObject({ trusted: false, reason });
    expect(trust.trusted === false && trust.message).toMatch(message);
  });
});
