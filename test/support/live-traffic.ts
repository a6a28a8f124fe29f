/**
 * Storefronts with live traffic for a test file: each test opens a fixture (MuShop or the gateway
 * shop) with the traffic generator and the two demo-service versions in front of it; after the file
 * every one is stopped and removed, whatever the tests did.
 */
import { startMushopTraffic, type MushopTraffic, type MushopTrafficOptions } from '../../scripts/traffic/main';
import { stackInfo } from './stack';

interface Fixture {
  namespace: string;
  cleanup(): Promise<void>;
}

export interface LiveTraffic {
  /** Starts traffic into `shop`'s namespace (the stack's kubeconfig and Prometheus targets). */
  open(shop: Fixture, options: Omit<MushopTrafficOptions, 'namespace' | 'kubeconfig' | 'targetsDir'>): Promise<MushopTraffic>;
  /** Stops every generator, then removes every fixture. */
  closeAll(): Promise<void>;
}

export function liveTraffic(info = stackInfo()): LiveTraffic {
  const opened: { shop: Fixture; traffic: MushopTraffic }[] = [];
  return {
    async open(shop, options) {
      const traffic = await startMushopTraffic({ ...options, namespace: shop.namespace, kubeconfig: info.kubernetes.kubeconfig, targetsDir: info.prometheus.targetsDir });
      opened.push({ shop, traffic });
      return traffic;
    },
    async closeAll() {
      await Promise.all(opened.splice(0).map(async ({ shop, traffic }) => {
        await traffic.stop();
        await shop.cleanup();
      }));
    },
  };
}
