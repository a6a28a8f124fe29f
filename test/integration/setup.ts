// Integration tests wait on real processes (Deployments becoming Available, workflows finishing).
jest.setTimeout(120_000);
