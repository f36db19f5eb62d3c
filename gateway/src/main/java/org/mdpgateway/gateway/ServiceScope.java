package org.mdpgateway.gateway;

import java.util.List;
import java.util.stream.Collectors;
import org.mdpgateway.mdp.ServiceGlob;

/**
 * The services one credential may use: a list of globs, any of which covers a name. Immutable, so
 * any thread may share it; an empty scope covers nothing.
 */
record ServiceScope(List<ServiceGlob> globs) {
    /** What a caller may use when the gateway asks for no credential at all. */
    static final ServiceScope EVERYTHING = new ServiceScope(List.of(ServiceGlob.of("*")));

    ServiceScope {
        globs = List.copyOf(globs);
    }

    /** The globs in {@code patterns}; an empty pattern is refused. */
    static ServiceScope of(List<String> patterns) {
        return new ServiceScope(patterns.stream().map(ServiceGlob::of).toList());
    }

    boolean covers(String service) {
        for (ServiceGlob glob : globs) {
            if (glob.matches(service)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return globs.stream().map(ServiceGlob::pattern).collect(Collectors.joining(","));
    }
}
