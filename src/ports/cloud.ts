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
  /** The id of the image it was booted from. */
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
  /**
   * Every server carrying `tag`, walked page by page: one paged walk per reconcile tick. A
   * real Nova may leave out a server that moves from scheduling to its cell between two pages,
   * so a server missing from a list is confirmed with `getServer` before it is called gone.
   */
  listServers(tag: string): Promise<CloudServer[]>;
  /**
   * What changed since `since` (the cloud's own clock, ms): every server carrying `tag` that was
   * created or changed since then, and every server of the project deleted since then, with
   * status DELETED. Nova's `changes-since`: a deleted server has lost its tags and metadata, so
   * deleted ones come untagged and are matched by id; the cloud reports them for a while only
   * (until its deleted rows are archived), so a caller that looked away longer walks the whole
   * list instead. Paged like `listServers`; one request at steady state.
   */
  listChanges(tag: string, since: number): Promise<CloudServer[]>;
  /** One server; null when the cloud does not know it. */
  getServer(id: string): Promise<CloudServer | null>;
  /** Not idempotent: callers look for the server by name/tag before creating another. */
  createServer(request: CreateServerRequest): Promise<CloudServer>;
  /** Deleting a server that is already gone succeeds. */
  deleteServer(id: string): Promise<void>;
  limits(): Promise<CloudLimits>;
  /**
   * The id of the image a server booted now from `name` gets: the newest of that name, since a
   * facility republishes rebuilt images under the same name. Servers report it as `image`.
   */
  imageId(name: string): Promise<string>;
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
