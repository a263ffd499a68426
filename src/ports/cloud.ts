/**
 * The cloud that runs the VMs: OpenStack in production, a simulated cloud in the embedded
 * default and in tests. Shapes follow Nova's so the real adapter maps one to one.
 */
export type ServerStatus = 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED' | 'UNKNOWN';

export interface CloudServer {
  id: string;
  name: string;
  status: ServerStatus;
  /** Nova's fault message when status is ERROR. */
  fault: string | null;
  /** First fixed address, for the connection details. */
  address: string | null;
  image: string;
  flavor: string;
  metadata: Record<string, string>;
  tags: string[];
  createdAt: number;
}

export interface CreateServerRequest {
  /** Deterministic, so a creation whose answer was lost can be found again instead of repeated. */
  name: string;
  image: string;
  flavor: string;
  networks: string[];
  metadata: Record<string, string>;
  tags: string[];
  keyName?: string;
  securityGroups?: string[];
  userData?: string;
}

export interface CloudLimits {
  maxInstances: number;
  usedInstances: number;
  maxCores: number;
  usedCores: number;
}

export interface Cloud {
  /** Every server carrying `tag`, walked page by page: one paged walk per reconcile tick. */
  listServers(tag: string): Promise<CloudServer[]>;
  /** Not idempotent: callers look for the server by name/tag before creating another. */
  createServer(request: CreateServerRequest): Promise<CloudServer>;
  /** Deleting a server that is already gone succeeds. */
  deleteServer(id: string): Promise<void>;
  limits(): Promise<CloudLimits>;
  /** vCPUs of a flavour, to keep boots inside the core quota. */
  flavorCores(flavor: string): Promise<number>;
}

/** A cloud call that failed: kept with the cloud's own status and request id for admins. */
export class CloudError extends Error {
  override readonly name = 'CloudError';
  constructor(
    message: string,
    readonly operation: string,
    readonly status: number | null,
    readonly requestId: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Worth trying again later: the cloud or the network had a bad moment. */
  get transient(): boolean {
    return this.status === null || this.status >= 500 || this.status === 429;
  }
}
