/** The layers of `verify`, in the order they run: hosts first, chaos (opt-in) last. */
import type { Layer } from '../check.js';
import { chaosLayer } from './chaos.js';
import { containerdLayer } from './containerd.js';
import { endpointLayer } from './endpoint.js';
import { etcdLayer } from './etcd.js';
import { hostsLayer } from './hosts.js';
import { kubernetesLayer } from './kubernetes.js';

export const SMOKE_LAYERS: readonly Layer[] = [hostsLayer, etcdLayer, containerdLayer, endpointLayer, kubernetesLayer, chaosLayer];

export { chaosLayer, containerdLayer, endpointLayer, etcdLayer, hostsLayer, kubernetesLayer };
