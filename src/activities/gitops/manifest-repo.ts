/**
 * The manifests of a rollout in a GitOps repository: reads the objects Ramp manages from their
 * files, writes a change as one commit that edits only the values Ramp manages
 * (src/domain/gitops/edit.ts), pushes it without force, and tells a person's commit that changed
 * one of those values (drift) from one that did not. Built on an injected GitRepo, so every
 * operation is the git CLI on a real repository.
 */
import { posix } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { commitMessage, RolloutCommit, TRAILER_KEYS } from '../../domain/gitops/commit-message';
import { applyObjectChange, renderNewManifest } from '../../domain/gitops/edit';
import { managedDiff, ManagedDifference } from '../../domain/gitops/managed';
import { addResource, KUSTOMIZATION_FILES, KustomizationError, removeResource } from '../../domain/gitops/kustomization';
import { findObject, locatorInWords, ManifestError, ObjectLocator, parseManifestFile } from '../../domain/gitops/manifest-file';
import { Failure } from '../../shared/failures';
import type { CommitInfo, GitRepo } from '../../infra/git';

/** An object Ramp manages and the file (relative to the repository's root) it lives in. */
export interface ManagedObject {
  locator: ObjectLocator;
  path: string;
}

/** One object's new state: its whole manifest, or null to remove it (its file must hold only it). */
export interface ObjectChange extends ManagedObject {
  after: unknown;
}

/** A person's commit that changed a value Ramp manages. */
export interface Drift {
  commit: Pick<CommitInfo, 'sha' | 'authorName' | 'authorEmail' | 'subject'>;
  object: string;
  path: string;
  differences: ManagedDifference[];
}

const HEADER = 'Written by Ramp for a canary rollout; removed when the rollout ends.';

/** A ManifestError (a file Ramp cannot edit) as the non-retryable failure that names the file and the fix. */
function manifestFailure(err: unknown): never {
  if (err instanceof ManifestError) throw ApplicationFailure.create({ message: err.message, type: Failure.Invalid, cause: err });
  throw err;
}

export class ManifestRepo {
  constructor(private readonly git: GitRepo) {}

  /** The object as its file holds it at the branch's head, or undefined when the file or the object is absent. */
  async read(o: ManagedObject): Promise<unknown> {
    await this.git.sync();
    return this.readSynced(o);
  }

  private async readSynced(o: ManagedObject): Promise<unknown> {
    const text = await this.git.readFile(o.path);
    if (text === undefined) return undefined;
    try {
      return structuredClone(findObject(parseManifestFile(o.path, text), o.locator).value);
    } catch (err) {
      return manifestFailure(err);
    }
  }

  /**
   * Commits the changes as one commit and pushes it; returns the commit pushed, or the head when the
   * files already hold the changes (a retried activity makes no second commit). `date` makes a
   * retried commit the same commit (pass the workflow's time). `branch`: push the commit to that
   * branch instead (a proposal to merge); the work tree goes back to the target branch at the next sync.
   */
  async commit(changes: ObjectChange[], note: RolloutCommit, date?: Date, branch?: string): Promise<{ sha: string; committed: boolean }> {
    const before = await this.git.sync();
    const files: Record<string, string | null> = {};
    for (const c of changes) {
      const current = files[c.path] ?? await this.git.readFile(c.path);
      files[c.path] = this.edited(c, current ?? undefined);
      // A new file, or a file removed, in a folder kustomize builds: list it there, or unlist it.
      if ((current === undefined) !== (files[c.path] === null)) await this.listInKustomization(files, c.path, files[c.path] !== null);
    }
    const { message } = commitMessage(note);
    const sha = await this.git.writeAndCommit({ files, message, ...(date ? { date } : {}) });
    if (sha === before) return { sha, committed: false };
    return { sha: branch ? await this.git.pushBranch(branch) : await this.git.push(), committed: true };
  }

  /**
   * The agent builds a folder with a kustomization file from its `resources:` only: a file Ramp adds
   * there is listed in it in the same commit, and unlisted when Ramp removes the file.
   */
  private async listInKustomization(files: Record<string, string | null>, file: string, add: boolean): Promise<void> {
    const dir = posix.dirname(file);
    for (const name of KUSTOMIZATION_FILES) {
      const k = dir === '.' ? name : `${dir}/${name}`;
      const text = files[k] ?? await this.git.readFile(k);
      if (text === undefined || text === null) continue;
      try {
        files[k] = add ? addResource(k, text, posix.basename(file)) : removeResource(k, text, posix.basename(file));
      } catch (err) {
        if (err instanceof KustomizationError) throw ApplicationFailure.create({ message: err.message, type: Failure.Invalid, cause: err });
        throw err;
      }
      return;
    }
  }

  /** The file's new text for one change; null removes the file. */
  private edited(c: ObjectChange, text: string | undefined): string | null {
    try {
      if (c.after === null) {
        if (text === undefined) return null;
        const file = parseManifestFile(c.path, text);
        const objects = file.documents.filter((d) => d.value !== null && typeof d.value === 'object');
        if (objects.length > 1) {
          throw ApplicationFailure.create({ message: `${c.path} holds ${objects.length} objects; Ramp removes ${locatorInWords(c.locator)} only from a file that holds it alone: move it to its own file`, type: Failure.Invalid });
        }
        return null;
      }
      if (text === undefined) return renderNewManifest(c.after, HEADER);
      const doc = findObject(parseManifestFile(c.path, text), c.locator);
      return applyObjectChange(text, c.locator, doc.value, c.after, { file: c.path });
    } catch (err) {
      return manifestFailure(err);
    }
  }

  /**
   * Whether the branch's head holds `expected`'s managed values (weights, route entries, subsets):
   * a proposed change has been merged, squashed, rebased or made by hand. Returns the head and the
   * commit on the branch's own line that last changed the file (who merged it).
   */
  async holds(o: ManagedObject, expected: unknown): Promise<{ head: string; by?: CommitInfo } | undefined> {
    const head = await this.git.sync();
    const now = await this.readSynced(o);
    if (now === undefined || managedDiff(expected, now).length > 0) return undefined;
    const [by] = await this.git.commitsTouching(o.path, undefined, 'HEAD', { firstParent: true, max: 1 });
    return { head, ...(by ? { by } : {}) };
  }

  /**
   * The newest commit to `path` made after this rollout's last commit to it by anyone else: who
   * changed the file under the rollout. Undefined when the rollout's own commit is the newest (or
   * the rollout never wrote the file and nobody else did).
   */
  async lastForeignCommit(path: string, rollout: string): Promise<CommitInfo | undefined> {
    await this.git.sync();
    const commits = await this.git.commitsTouching(path);
    const own = commits.findIndex((c) => c.trailers[TRAILER_KEYS.rollout] === rollout);
    return own === 0 ? undefined : commits[0];
  }

  /**
   * Commits by anyone but this rollout since `sinceSha` that changed a managed value of the object:
   * `expected` is what Ramp last wrote. Returns the newest such commit, or undefined. A commit that
   * touched the file elsewhere (a label, another document) is not drift.
   */
  async drift(o: ManagedObject, sinceSha: string, expected: unknown, rollout: string): Promise<Drift | undefined> {
    await this.git.sync();
    const foreign = (await this.git.commitsTouching(o.path, sinceSha)).filter((c) => c.trailers[TRAILER_KEYS.rollout] !== rollout);
    if (foreign.length === 0) return undefined;
    const now = await this.readSynced(o);
    const differences = expected === null || now === undefined ? [] : managedDiff(expected, now);
    if (differences.length === 0 && (expected === null) === (now === undefined)) return undefined;
    const c = foreign[0]!;
    return { commit: { sha: c.sha, authorName: c.authorName, authorEmail: c.authorEmail, subject: c.subject }, object: locatorInWords(o.locator), path: o.path, differences };
  }
}

/** Drift in words: the commit, its author and each field, with what Ramp wrote and what the commit set. */
export function driftInWords(d: Drift): string {
  const fields = d.differences.length === 0
    ? 'added or removed the object'
    : d.differences.map((x) => `${x.path}: Ramp wrote ${JSON.stringify(x.expected)}, now ${JSON.stringify(x.actual)}`).join('; ');
  return `commit ${d.commit.sha.slice(0, 12)} by ${d.commit.authorName} <${d.commit.authorEmail}> ("${d.commit.subject}") changed ${d.object} in ${d.path}, which Ramp manages: ${fields}. `
    + 'Revert that commit (or make the values Ramp\'s again) and resume, or abort the rollout';
}
