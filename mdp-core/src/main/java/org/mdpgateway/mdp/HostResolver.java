package org.mdpgateway.mdp;

import java.io.IOException;
import java.net.InetAddress;
import java.util.List;

/**
 * Looks a host name up, for a client or worker that takes each broker name for every address it
 * resolves to ({@code MdpClient.Builder.resolveBrokers}, {@code MdpWorker.Builder.resolveBrokers}).
 * Called on the resolving thread of that client or worker only.
 */
@FunctionalInterface
public interface HostResolver {
    /** The system's resolver. */
    HostResolver SYSTEM = host -> List.of(InetAddress.getAllByName(host));

    List<InetAddress> resolve(String host) throws IOException;
}
