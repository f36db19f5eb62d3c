package org.mdpgateway.mdp.internal;

import org.zeromq.ZContext;

/**
 * The ZeroMQ contexts of the {@link org.mdpgateway.mdp.client.MdpClient}s and
 * {@link org.mdpgateway.mdp.worker.MdpWorker}s of this process that were given none: one for all the
 * clients and one for all the workers, each with one JeroMQ I/O thread.
 *
 * <p>Why one per role and not one per socket, nor one for all: a context each cost two threads per
 * worker, and waking a worker's own idle I/O thread for each request halved the throughput of four
 * sequential workers on two cores. One context for both roles put a process's requests and its
 * replies on the same I/O thread: a client and four workers in one process served about 0.56 of what
 * raw peers did, against about 0.8 with a context for each role (bench {@code libs-seq}).
 *
 * <p>Created on first use and never closed: their threads are daemons, and each client and worker
 * closes its own sockets.
 */
public final class SharedContext {
    private SharedContext() {}

    private static final class Clients {
        static final ZContext CONTEXT = new ZContext(1);
    }

    private static final class Workers {
        static final ZContext CONTEXT = new ZContext(1);
    }

    /** The context of every client in this process that was given none. */
    public static ZContext forClients() {
        return Clients.CONTEXT;
    }

    /** The context of every worker in this process that was given none. */
    public static ZContext forWorkers() {
        return Workers.CONTEXT;
    }
}
