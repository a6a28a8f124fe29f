/**
 * spec.gitops.repository.credentials: one kind of credentials, and an SSH key only with the
 * known_hosts file its server is checked against (as Flux asks for known_hosts with an SSH key):
 * each mistake named at its field, with the fix.
 */
import YAML from 'yaml';
import { parseRollout, SpecError } from '../../../../src/domain/spec/parse';
import { newTestRolloutRaw } from '../../../support/builders';

const URL = 'ssh://git@git.example.com/platform/apps.git';

function messagesFor(credentials: Record<string, unknown>): string[] {
  const text = YAML.stringify(newTestRolloutRaw({
    spec: { gitops: { mode: 'cluster', repository: { url: URL, credentials }, manifests: { deployment: 'apps/storefront/deployment.yaml' } } },
  }));
  try {
    const r = parseRollout(text);
    expect(r.spec.gitops?.repository.credentials).toEqual(credentials);
    return [];
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

const AT = 'spec.gitops.repository.credentials';

describe('spec.gitops.repository.credentials', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['an SSH key with its known_hosts file', { sshKeyFile: '/etc/ramp/git/id_ed25519', knownHostsFile: '/etc/ramp/git/known_hosts' }, []],
    ['basic auth alone', { basicAuthFile: '/etc/ramp/git/credentials' }, []],
    ['an SSH key without known_hosts', { sshKeyFile: '/etc/ramp/git/id_ed25519' }, [
      `${AT}.knownHostsFile: required with sshKeyFile: a known_hosts file on the worker holding the SSH server's host key, so ssh checks whom it talks to `
        + '(`ssh-keyscan -p PORT HOST` prints the line; compare its fingerprint with the one the server\'s owner publishes), e.g. knownHostsFile: /etc/ramp/git/known_hosts',
    ]],
    ['known_hosts without an SSH key', { knownHostsFile: '/etc/ramp/git/known_hosts' }, [`${AT}.knownHostsFile: is for SSH: give sshKeyFile with it, or remove it`]],
    ['known_hosts with basic auth', { basicAuthFile: '/etc/ramp/git/credentials', knownHostsFile: '/etc/ramp/git/known_hosts' }, [`${AT}.knownHostsFile: is for SSH: give sshKeyFile with it, or remove it`]],
    ['a relative known_hosts path', { sshKeyFile: '/etc/ramp/git/id_ed25519', knownHostsFile: 'known_hosts' }, [
      `${AT}.knownHostsFile: must be an absolute path on the worker (a mounted Secret), e.g. /etc/ramp/git/credentials`,
    ]],
    ['two kinds of credentials', { tokenFile: '/etc/ramp/git/token', sshKeyFile: '/etc/ramp/git/id_ed25519', knownHostsFile: '/etc/ramp/git/known_hosts' }, [
      `${AT}: give one of basicAuthFile, tokenFile and sshKeyFile`,
    ]],
  ])('%s', (_what, credentials, want) => {
    expect(messagesFor(credentials)).toEqual(want);
  });
});
