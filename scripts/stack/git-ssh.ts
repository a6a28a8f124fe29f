/**
 * The stack's git server over SSH: OpenSSH's own sshd (Debian's openssh-server) on loopback, with
 * its own config, host key and authorized_keys under `<state>/git/ssh`, serving the HTTP server's
 * repositories folder. `ssh://<user>@127.0.0.1:<port>/<name>.git` is `<repos>/<name>.git`, the
 * repository `http://127.0.0.1:<git port>/<name>.git` serves, so a test reaches one repository both
 * ways. Real clients (the git CLI through ssh, Ramp's git client) meet what a forge's SSH side
 * answers: a refused key, an unknown or changed host key, a key file ssh will not use.
 *
 * Who logs in: the account the stack runs as (root on the project's machines), not a `git`
 * account. The repositories are that account's files (the HTTP server runs as it and tests create
 * repositories as it), so a separate `git` user would need every repository group-shared; and an
 * sshd run by a user other than root can only let that same user in anyway. What keeps this safe
 * enough for a test server: it listens on 127.0.0.1 only; only public keys are accepted, and only
 * the stack's own client key is in authorized_keys; `PermitRootLogin forced-commands-only`, the
 * key's `restrict,command=` and sshd's `ForceCommand` all pin the one program a session may run,
 * the script `ensureSshServer` writes: it allows git's fetch and push services (through git-shell)
 * on a repository under the repos folder and nothing else — no shell, no pty, no forwarding, no
 * path outside the folder.
 *
 * Usable for any state folder (a test's own, with its own port): `ensureSshServer` writes the
 * files, `sshdArgs` is the command line the stack component runs, `sshServerReady` its probe.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBareRepo, READY_PROBE_REPO } from './git-server';

/** Where Debian's openssh-server puts sshd (stack/install.sh installs it). */
export const SSHD = '/usr/sbin/sshd';

export interface SshServerFiles {
  dir: string;
  /** sshd's own config (never /etc/ssh/sshd_config). */
  config: string;
  /** The server's ed25519 host key (private; `.pub` beside it). */
  hostKey: string;
  /** The keys sshd accepts: the stack's client key, restricted to the forced command. */
  authorizedKeys: string;
  /** The one program a session runs (ForceCommand): git-shell for fetch and push under the repos folder. */
  forcedCommand: string;
  /** The client's ed25519 private key, mode 0600 (`.pub` beside it): what tests and Ramp authenticate with. */
  clientKey: string;
  /** One line for the server (`[host]:port ssh-ed25519 …`): what a client checks the host key against. */
  knownHosts: string;
}

export interface SshServerOptions {
  /** The folder the files live in (`<state>/git/ssh`). */
  dir: string;
  host: string;
  port: number;
  /** The folder of bare repositories, the HTTP server's `--root`. */
  reposDir: string;
}

export function sshServerFiles(dir: string): SshServerFiles {
  return {
    dir,
    config: path.join(dir, 'sshd_config'),
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    authorizedKeys: path.join(dir, 'authorized_keys'),
    forcedCommand: path.join(dir, 'git-only.sh'),
    clientKey: path.join(dir, 'id_ed25519'),
    knownHosts: path.join(dir, 'known_hosts'),
  };
}

/** The account sessions log in as: the one the stack (and so sshd) runs as. */
export function sshUser(): string {
  return os.userInfo().username;
}

/** `ssh://user@host:port`; a repository is `<this>/<name>.git`. */
export function sshBaseUrl(host: string, port: number, user = sshUser()): string {
  return `ssh://${user}@${host}:${port}`;
}

/** A host's entry as known_hosts writes it (and `ssh-keyscan -p PORT HOST` prints it): `[host]:port` unless the port is 22. */
export function knownHostsLine(host: string, port: number, publicKey: string): string {
  const [type, key] = publicKey.trim().split(/\s+/);
  return `${port === 22 ? host : `[${host}]:${port}`} ${type} ${key}`;
}

/**
 * Paths that go into sshd_config, authorized_keys and a shell script unquoted: letters, digits and
 * `_@+=:,./-` only, so no quoting rule of the three can be got wrong.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9_@+=:,./-]*$/;

function assertPlainPath(what: string, p: string): void {
  if (!PLAIN_PATH.test(p)) {
    throw new Error(`${what} ${JSON.stringify(p)} holds characters the SSH server's config cannot carry unquoted: use a state folder (RAMP_STATE_DIR) whose absolute path has only letters, digits and _@+=:,./-`);
  }
}

function keygen(file: string, comment: string): void {
  if (fs.existsSync(file) && fs.existsSync(`${file}.pub`)) return;
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * The forced command. git sends `git-upload-pack '/<name>.git'` (or git-receive-pack): the path
 * is checked segment by segment as the HTTP server checks its paths (letters, digits and `._-`, no
 * dot-segments) and served from the repos folder through git-shell. Anything else is refused with
 * git's own words for a missing repository, so a client reports it as such.
 */
export function forcedCommandScript(reposDir: string, gitShell: string): string {
  return `#!/bin/sh
# Written by scripts/stack/git-ssh.ts at every start of the stack's SSH git server; edits are lost.
# The only program a session runs (sshd's ForceCommand, and command= in authorized_keys): git's
# fetch and push services on a repository under ${reposDir}, through git-shell. Nothing else.
set -f
cmd=\${SSH_ORIGINAL_COMMAND-}
service=\${cmd%% *}
case $service in
  git-upload-pack|git-receive-pack) ;;
  *) echo "fatal: this server runs git fetch and push only; '\${service:-an interactive login}' is refused" >&2; exit 128 ;;
esac
arg=\${cmd#"$service" }
repo=\${arg#\\'}
repo=\${repo%\\'}
refuse() { echo "fatal: '$repo' does not appear to be a git repository" >&2; exit 128; }
[ "$arg" = "'$repo'" ] || refuse
case $repo in /?*) ;; *) refuse ;; esac
case $repo in */|*//*) refuse ;; esac
IFS=/
for segment in \${repo#/}; do
  case $segment in ''|[.-]*|*[!A-Za-z0-9._-]*) refuse ;; esac
done
# The server reads each repository's own config, not the login account's.
GIT_CONFIG_GLOBAL=/dev/null
export GIT_CONFIG_GLOBAL
exec ${gitShell} -c "$service '${reposDir}$repo'"
`;
}

function sshdConfig(o: SshServerOptions, f: SshServerFiles, user: string): string {
  return [
    '# Written by scripts/stack/git-ssh.ts at every start of the stack\'s SSH git server; edits are lost.',
    `ListenAddress ${o.host}:${o.port}`,
    `HostKey ${f.hostKey}`,
    'PidFile none',
    `AuthorizedKeysFile ${f.authorizedKeys}`,
    `AllowUsers ${user}`,
    // Root may log in only with a key whose authorized_keys line forces a command (ours does).
    'PermitRootLogin forced-commands-only',
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'UsePAM no',
    // StrictModes would refuse every key, with only a line in this log, when a folder above the
    // state folder is group- or world-writable (a test's state folder under /tmp is). The files
    // are the stack's own (0600 in a 0700 folder), and ForceCommand below holds whatever key
    // authorized_keys lists to the forced command.
    'StrictModes no',
    `ForceCommand ${f.forcedCommand}`,
    'DisableForwarding yes',
    'PermitTTY no',
    'PermitUserRC no',
    'PermitUserEnvironment no',
    // Git's protocol v2 is negotiated through this variable, as on forges.
    'AcceptEnv GIT_PROTOCOL',
    'PrintMotd no',
    'PrintLastLog no',
    'LoginGraceTime 30',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

/**
 * Writes what the server and its clients need: the host and client keys once (kept across
 * restarts, so a known_hosts file stays valid), and at every start the config, authorized_keys,
 * the forced command and known_hosts (the port may have moved). Returns the files.
 */
export function ensureSshServer(o: SshServerOptions): SshServerFiles {
  const f = sshServerFiles(o.dir);
  assertPlainPath('state folder', o.dir);
  assertPlainPath('repos folder', o.reposDir);
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: run \`npm run stack:install\` (it installs Debian's openssh-server)`);
  const gitShell = path.join(execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(), 'git-shell');
  if (!fs.existsSync(gitShell)) throw new Error(`${gitShell} is missing: install git with its git-shell (Debian: package git)`);
  assertPlainPath('git-shell', gitShell);
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(o.dir, 0o700);
  ensureBareRepo(o.reposDir, READY_PROBE_REPO);
  keygen(f.hostKey, 'ramp-stack-git-ssh-host');
  keygen(f.clientKey, 'ramp-stack-git-ssh-client');
  const user = sshUser();
  fs.writeFileSync(f.forcedCommand, forcedCommandScript(o.reposDir, gitShell), { mode: 0o700 });
  fs.chmodSync(f.forcedCommand, 0o700);
  const clientPub = fs.readFileSync(`${f.clientKey}.pub`, 'utf8').trim();
  fs.writeFileSync(f.authorizedKeys, `restrict,command="${f.forcedCommand}" ${clientPub}\n`, { mode: 0o600 });
  fs.writeFileSync(f.knownHosts, knownHostsLine(o.host, o.port, fs.readFileSync(`${f.hostKey}.pub`, 'utf8')) + '\n', { mode: 0o644 });
  fs.writeFileSync(f.config, sshdConfig(o, f, user), { mode: 0o600 });
  // sshd started by root separates privileges into an unprivileged child chrooted here; Debian's
  // service creates it at boot, which a machine without an init system never does.
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  return f;
}

/** sshd in the foreground (the recorded pid is the listener's), logging to stderr, with the stack's config only. */
export function sshdArgs(f: SshServerFiles): string[] {
  return ['-D', '-e', '-f', f.config];
}

/** The ssh command git runs for a key and a known_hosts file: no prompts, no other identity, no other host keys. */
export function gitSshCommand(keyFile: string, knownHostsFile: string): string {
  return [
    'ssh', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5',
  ].map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The readiness probe: `git ls-remote` of the probe repository over SSH with the client key and
 * known_hosts, so ready means the host key matches, the key is accepted and the forced command
 * serves git.
 */
export function sshServerReady(baseUrl: string, f: Pick<SshServerFiles, 'clientKey' | 'knownHosts'>, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('git', ['ls-remote', `${baseUrl}/${READY_PROBE_REPO}.git`], {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      env: { PATH: process.env.PATH, HOME: os.tmpdir(), LC_ALL: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_SSH_COMMAND: gitSshCommand(f.clientKey, f.knownHosts) },
    }, (err) => resolve(err === null));
  });
}
