import { ApplicationFailure } from '@temporalio/common';
import { classifyGitError, GitConflictError, gitError, gitFailure, scrub } from '../../../src/infra/git-errors';
import { GitRepo } from '../../../src/infra/git';
import { Failure } from '../../../src/shared/failures';

/** What git prints after every failed ssh connection. */
const SSH_TAIL = '\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';
const CHANGED = [
  '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
  '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
  '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
  'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
  'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
  'It is also possible that a host key has just been changed.',
  'The fingerprint for the ED25519 key sent by the remote host is',
  'SHA256:QhqjoJjVb7fJafOfHnWYL3wRsEAD9THnkxpjR+E6FEM.',
  'Please contact your system administrator.',
  'Add correct host key in /etc/ramp/git/known_hosts to get rid of this message.',
  'Offending ED25519 key in /etc/ramp/git/known_hosts:1',
  '  remove with:',
  '  ssh-keygen -f "/etc/ramp/git/known_hosts" -R "[127.0.0.1]:19422"',
  'Host key for [127.0.0.1]:19422 has changed and you have requested strict checking.',
  'Host key verification failed.',
].join('\n');
const TOO_OPEN = [
  '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
  '@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @',
  '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
  "Permissions 0644 for '/etc/ramp/git/id_ed25519' are too open.",
  'It is required that your private key files are NOT accessible by others.',
  'This private key will be ignored.',
  'Load key "/etc/ramp/git/id_ed25519": bad permissions',
  'root@127.0.0.1: Permission denied (publickey).',
].join('\n');

// git's stderr as it prints it with LC_ALL=C (from git 2.39 against the stack's server, GitHub, GitLab and sshd).
const CASES: [string, number | 'timeout', string, Failure][] = [
  ['401, prompts off', 128, "fatal: could not read Username for 'http://127.0.0.1:19418': terminal prompts disabled", Failure.GitAuthFailed],
  ['401 after askpass', 128, "remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/o/r.git/'", Failure.GitAuthFailed],
  ['403', 128, "remote: Permission to o/r.git denied to bot.\nfatal: unable to access 'https://github.com/o/r.git/': The requested URL returned error: 403", Failure.GitAuthFailed],
  ['GitLab basic', 128, "remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://gitlab.com/g/p.git/'", Failure.GitAuthFailed],
  ['ssh key refused', 128, 'git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.', Failure.GitAuthFailed],
  ['ssh host key', 128, 'Host key verification failed.\nfatal: Could not read from remote repository.', Failure.GitAuthFailed],
  ['http repo absent', 128, "fatal: repository 'http://127.0.0.1:19418/nope.git/' not found", Failure.GitNotFound],
  ['404', 128, "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 404", Failure.GitNotFound],
  ['ssh repo absent', 128, 'ERROR: Repository not found.\nfatal: Could not read from remote repository.', Failure.GitNotFound],
  ['clone branch absent', 128, 'fatal: Remote branch main not found in upstream origin', Failure.GitNotFound],
  ['fetch branch absent', 128, "fatal: couldn't find remote ref refs/heads/nope", Failure.GitNotFound],
  ['unknown sha', 128, 'fatal: Not a valid commit name 0123456789abcdef0123456789abcdef01234567', Failure.GitNotFound],
  ['log range', 128, "fatal: bad revision 'abc..HEAD'", Failure.GitNotFound],
  ['refused', 128, "fatal: unable to access 'http://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server", Failure.GitUnreachable],
  ['DNS', 128, "fatal: unable to access 'https://nohost.invalid/r.git/': Could not resolve host: nohost.invalid", Failure.GitUnreachable],
  ['502', 128, "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 502", Failure.GitUnreachable],
  ['429', 128, "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 429", Failure.GitUnreachable],
  ['dropped transfer', 128, 'error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nfatal: early EOF', Failure.GitUnreachable],
  ['ssh refused', 128, 'ssh: connect to host h port 22: Connection refused\nfatal: Could not read from remote repository.', Failure.GitUnreachable],
  ['ssh not installed (GIT_SSH_COMMAND through sh)', 128, 'sh: 1: ssh: not found\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.', Failure.GitFailed],
  ['ssh not installed (git runs it)', 128, 'error: cannot run ssh: No such file or directory\nfatal: unable to fork', Failure.GitFailed],
  ['TLS', 128, "fatal: unable to access 'https://h/r.git/': server certificate verification failed. CAfile: none CRLfile: none", Failure.GitUnreachable],
  ['killed at the timeout', 'timeout', '', Failure.GitUnreachable],
  ['branch moved', 1, " ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs to 'http://h/r.git'\nhint: Updates were rejected because the remote contains work that you do", Failure.Conflict],
  ['hook', 1, " ! [remote rejected] HEAD -> main (pre-receive hook declined)\nerror: failed to push some refs to 'http://h/r.git'", Failure.GitRejected],
  ['GitHub protection', 1, 'remote: error: GH006: Protected branch update failed for refs/heads/main.\n ! [remote rejected] HEAD -> main (protected branch hook declined)', Failure.GitRejected],
  // OpenSSH 9.2 through git 2.39 against the stack's sshd (test/integration/gitops/git-ssh.test.ts meets each for real).
  ['ssh key not authorized', 128, `root@127.0.0.1: Permission denied (publickey).${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh host key unknown', 128, `No ED25519 host key is known for [127.0.0.1]:19422 and you have requested strict checking.\nHost key verification failed.${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh host key changed', 128, `${CHANGED}${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh key file too open', 128, `${TOO_OPEN}${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh key file unreadable', 128, `Load key "/etc/ramp/git/id_ed25519": Permission denied\ngit@github.com: Permission denied (publickey).${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh key file absent', 128, `Warning: Identity file /etc/ramp/git/id_ed25519 not accessible: No such file or directory.\ngit@github.com: Permission denied (publickey).${SSH_TAIL}`, Failure.GitAuthFailed],
  ['ssh connection refused', 128, `ssh: connect to host 127.0.0.1 port 19422: Connection refused${SSH_TAIL}`, Failure.GitUnreachable],
  ['ssh DNS', 128, `ssh: Could not resolve hostname nohost.invalid: Name or service not known${SSH_TAIL}`, Failure.GitUnreachable],
  ['ssh repository absent', 128, `fatal: '/srv/git/repos/nope.git' does not appear to be a git repository${SSH_TAIL}`, Failure.GitNotFound],
  ['index lock', 128, "fatal: Unable to create '/w/.git/index.lock': File exists.", Failure.GitFailed],
  ['nothing said', 1, '', Failure.GitFailed],
];

describe('classifyGitError', () => {
  it.each(CASES)('%s → %s', (_what, exit, stderr, type) => {
    expect(classifyGitError({ op: 'push', exit, stderr }).type).toBe(type);
  });

  it('gives a fix for every type a person must act on', () => {
    for (const [, exit, stderr, type] of CASES) {
      const { fix } = classifyGitError({ op: 'fetch', exit, stderr });
      const mustAct: Failure[] = [Failure.GitAuthFailed, Failure.GitNotFound, Failure.GitRejected];
      if (mustAct.includes(type)) expect(fix).toBeTruthy();
    }
  });
});

describe('SSH failures: the fix says what to do', () => {
  const fixOf = (stderr: string) => classifyGitError({ op: 'clone', exit: 128, stderr }).fix;

  it.each([
    ['a key not authorized', `root@127.0.0.1: Permission denied (publickey).${SSH_TAIL}`, /^the SSH server refused the key \(credentials\.sshKeyFile\): it is not authorized for this repository/],
    ['an unknown host, with the ssh-keyscan line for its port', `No ED25519 host key is known for [127.0.0.1]:19422 and you have requested strict checking.\nHost key verification failed.${SSH_TAIL}`,
      /credentials\.knownHostsFile\) has no key for this SSH server: add the server's key to it \(`ssh-keyscan -p 19422 127\.0\.0\.1` prints the line/],
    ['an unknown host on port 22', `No ECDSA host key is known for github.com and you have requested strict checking.\nHost key verification failed.${SSH_TAIL}`, /`ssh-keyscan github\.com`/],
    ['an unknown host ssh does not name', `Host key verification failed.${SSH_TAIL}`, /`ssh-keyscan -p PORT HOST`/],
    ['a changed host key', `${CHANGED}${SSH_TAIL}`, /^the SSH server answered with a host key other than the one the known_hosts file .*\(`ssh-keyscan -p 19422 127\.0\.0\.1` prints it/],
    ['a key file others may read', `${TOO_OPEN}${SSH_TAIL}`, /mode 0600 or 0400 \(chmod 600; on Kubernetes, defaultMode: 0400 on the Secret volume\)/],
    ['a key file ssh cannot read', `Load key "/k": Permission denied\nroot@h: Permission denied (publickey).${SSH_TAIL}`, /^ssh cannot read the key file \(credentials\.sshKeyFile\)/],
  ])('%s', (_what, stderr, fix) => {
    expect(fixOf(stderr)).toMatch(fix);
  });

  it('keeps ssh\'s reason in the message, without git\'s closing advice or the banner', () => {
    const err = gitError({ op: 'clone', exit: 128, stderr: `${TOO_OPEN}${SSH_TAIL}` }, 'ssh://git@h:2222/r.git (branch main)');
    expect(err.message).toMatch(/failed: Permissions 0644 for '\/etc\/ramp\/git\/id_ed25519' are too open\./);
    expect(err.message).not.toMatch(/@@@|Please make sure/);
    const changed = gitError({ op: 'fetch', exit: 128, stderr: `${CHANGED}${SSH_TAIL}` }, 'r');
    expect(changed.message).toMatch(/Host key for \[127\.0\.0\.1\]:19422 has changed/);
  });
});

describe('gitError', () => {
  it('names the operation, the repository and git’s answer, and explains a refused password', () => {
    const err = gitError({ op: 'clone', exit: 128, stderr: "fatal: could not read Username for 'http://h:1': terminal prompts disabled" }, 'http://h:1/r.git (branch main)');
    expect(err.type).toBe(Failure.GitAuthFailed);
    expect(err.message).toMatch(/^git clone http:\/\/h:1\/r\.git \(branch main\) failed: the server at http:\/\/h:1 refused the credentials given \(HTTP 401\).* — check the credentials/);
  });

  it('keeps the error, not the hints', () => {
    const err = gitError({ op: 'push', exit: 1, stderr: ' ! [remote rejected] HEAD -> main (hook declined)\nhint: see docs\nhint: more' }, 'r');
    expect(err.message).not.toContain('hint');
  });
});

describe('scrub', () => {
  it.each([
    ['a password', 'fatal: s3cr3t-pw refused', ['s3cr3t-pw'], 'fatal: *** refused'],
    ['its base64 form', `Authorization: Basic ${Buffer.from('ramp:s3cr3t-pw').toString('base64')}`, ['s3cr3t-pw', 'ramp:s3cr3t-pw'], 'Authorization: Basic ***'],
    ['userinfo in a URL', "unable to access 'https://bot:tok3n@h/r.git/'", [], "unable to access 'https://***@h/r.git/'"],
    ['nothing secret', 'fatal: early EOF', ['s3cr3t-pw'], 'fatal: early EOF'],
  ])('removes %s', (_what, text, secrets, want) => {
    expect(scrub(text, secrets)).toBe(want);
  });
});

describe('gitFailure', () => {
  it('carries the type and a conflict’s paths and commits as details', () => {
    const upstream = [{ sha: 'abc', authorName: 'P', authorEmail: 'p@x', subject: 'hotfix' }];
    const f = gitFailure(new GitConflictError('conflict', ['a.yaml'], upstream));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(Failure.GitConflict);
    expect(f.details).toEqual([{ paths: ['a.yaml'], upstream }]);
    expect(gitFailure(new Error('boom')).type).toBe(Failure.GitFailed);
  });
});

describe('GitRepo settings', () => {
  const base = { url: 'https://h/r.git', branch: 'main', workDir: '/tmp/x', credentials: {}, author: { name: 'R', email: 'r@x' } };
  it.each([
    ['credentials in the URL', { url: 'https://bot:tok3n@h/r.git' }, /carries credentials/],
    ['two kinds of credentials', { credentials: { basicAuthFile: '/a', sshKeyFile: '/b', knownHostsFile: '/c' } }, /one of basicAuthFile, tokenFile, sshKeyFile/],
    ['an SSH key without known_hosts', { credentials: { sshKeyFile: '/k' } }, /sshKeyFile needs knownHostsFile too: a known_hosts file on the worker holding the SSH server's host key \(`ssh-keyscan -p PORT HOST` prints the line/],
    ['known_hosts without an SSH key', { credentials: { knownHostsFile: '/kh' } }, /knownHostsFile is for SSH: give sshKeyFile with it, or remove it/],
    ['a branch like an option', { branch: '--force' }, /branch name "--force" is not valid/],
    ['a branch with ..', { branch: 'a..b' }, /is not valid/],
  ])('refuses %s', (_what, over, msg) => {
    expect(() => new GitRepo({ ...base, ...over })).toThrow(msg);
  });

  it('keeps the credentials out of the message that refuses a URL carrying them', () => {
    expect(() => new GitRepo({ ...base, url: 'https://bot:tok3n@h/r.git' })).toThrow(/^(?!.*tok3n)/s);
  });

  it.each(['../x', '/etc/passwd', '.git/config', 'a/../b', ''])('refuses path %j', async (p) => {
    await expect(new GitRepo(base).readFile(p)).rejects.toThrow(/must be relative to the repository root/);
  });
});
