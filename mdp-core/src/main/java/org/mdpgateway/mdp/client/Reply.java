package org.mdpgateway.mdp.client;

import org.mdpgateway.mdp.Body;
import java.util.List;
import java.util.Objects;

/**
 * Everything a service sent back for one request: its PARTIALs in arrival order, then its FINAL. When
 * the PARTIALs were handed to a {@link PartialListener} as they arrived, {@link #partials()} is empty.
 */
public record Reply(String service, List<Body> partials, Body finalBody) {
    public Reply {
        Objects.requireNonNull(service, "service");
        partials = List.copyOf(partials);
        Objects.requireNonNull(finalBody, "finalBody");
    }

    /** Every part, PARTIALs first and the FINAL last. */
    public List<Body> parts() {
        Body[] all = partials.toArray(new Body[partials.size() + 1]);
        all[partials.size()] = finalBody;
        return List.of(all);
    }
}
