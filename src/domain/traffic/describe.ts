/**
 * The traffic router in words, for people: the CLI's validate and plan, the workflow's summary in
 * the Temporal UI. Kept apart from the client so that `ramp validate` loads no Temporal client.
 */
import type { TrafficSpec } from '../spec/schema';
import { managedRulesInWords } from './gateway';
import { managedRoutesInWords } from './istio';

/**
 * The traffic router in a few words: its provider, and the objects it manages where the provider
 * is one Ramp knows how to name (any other provider is named only by itself).
 */
export function describeTraffic(t: TrafficSpec): string {
  const sticky = t.stickySession ? `; sticky sessions: cookie ${t.stickySession.cookie}, ${t.stickySession.maxAgeSeconds}s` : '';
  return describeRouter(t) + sticky;
}

function describeRouter(t: TrafficSpec): string {
  const provider: string = t.provider;
  switch (t.provider) {
    case 'istio': {
      const routes = managedRoutesInWords(t.virtualService.routes);
      const routing = t.routing.mode === 'subset'
        ? `subset routing via ${t.routing.destinationRule !== undefined ? `DestinationRule ${t.routing.destinationRule}` : 'the host\'s DestinationRule (one is created for the rollout if there is none)'}`
        : `service routing: stable Service ${t.routing.stableService}, canary Service ${t.routing.canaryService}`;
      return `istio (VirtualService ${t.virtualService.name}, ${routes}; ${routing})`;
    }
    case 'gateway-api':
      return `gateway-api (${t.route.kind} ${t.route.name}, ${managedRulesInWords(t.route.rules)}; service routing: stable Service ${t.routing.stableService}, canary Service ${t.routing.canaryService})`;
    default:
      return provider;
  }
}
