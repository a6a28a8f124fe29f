import { ApplicationFailure } from '@temporalio/common';
import type { ObjectRef, ObjectStore } from '../../../../src/activities/store/store';
import { withGitFailures } from '../../../../src/activities/store/git';
import { GitError } from '../../../../src/infra/git-errors';
import { Failure } from '../../../../src/shared/failures';

const ref = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', kind: 'VirtualService', namespace: 'shop', name: 'web' } as ObjectRef;
const note = { action: 'setWeight' } as never;

/** A store whose every call fails with `err`. */
function failing(err: Error): ObjectStore {
  const fail = () => Promise.reject(err);
  return { inGit: () => true, commits: [], get: fail, list: fail, patch: fail, create: fail, delete: fail, blame: fail };
}

describe('withGitFailures', () => {
  it.each([
    ['get', (s: ObjectStore) => s.get(ref)],
    ['patch', (s: ObjectStore) => s.patch(ref, [], note)],
    ['create', (s: ObjectStore) => s.create(ref, {}, note)],
    ['delete', (s: ObjectStore) => s.delete(ref, undefined, note)],
    ['blame', (s: ObjectStore) => s.blame(ref)],
  ])('%s: a GitError reaches Temporal as an ApplicationFailure of its type, so the retry policies see it', async (_name, call) => {
    const err = await call(withGitFailures(failing(new GitError(Failure.GitUnreachable, 'git fetch http://git.test/r.git failed: Connection refused')))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: Failure.GitUnreachable, message: 'git fetch http://git.test/r.git failed: Connection refused' });
  });

  it('passes every other error through unchanged (the cluster store already names its failures)', async () => {
    const kube = ApplicationFailure.create({ message: 'conflict', type: Failure.Conflict });
    await expect(withGitFailures(failing(kube)).get(ref)).rejects.toBe(kube);
    const bug = new TypeError('x is undefined');
    await expect(withGitFailures(failing(bug)).list(ref)).rejects.toBe(bug);
  });
});
