package org.mdpgateway.mdp;

import java.util.Objects;

/**
 * A pattern over service names, as access rules write them: {@code *} stands for any run of
 * characters (none included), {@code ?} for any one character, everything else for itself. So
 * {@code payments.*} covers {@code payments.refund}, and {@code *} covers every service.
 *
 * <p>Immutable; matching is linear in the name and allocates nothing.
 */
public final class ServiceGlob {
    private final String pattern;

    private ServiceGlob(String pattern) {
        this.pattern = pattern;
    }

    /** The glob {@code pattern}; it must not be empty. */
    public static ServiceGlob of(String pattern) {
        Objects.requireNonNull(pattern, "pattern");
        if (pattern.isEmpty()) {
            throw new IllegalArgumentException("a service glob must not be empty");
        }
        return new ServiceGlob(pattern);
    }

    /** Whether {@code service} is covered by this glob. */
    public boolean matches(String service) {
        // The classic greedy match with one backtrack point: the last star seen.
        int p = 0;
        int s = 0;
        int star = -1;
        int afterStar = 0;
        while (s < service.length()) {
            if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == service.charAt(s))) {
                p++;
                s++;
            } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                star = p++;
                afterStar = s;
            } else if (star >= 0) {
                p = star + 1;
                s = ++afterStar;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') {
            p++;
        }
        return p == pattern.length();
    }

    public String pattern() {
        return pattern;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ServiceGlob other && other.pattern.equals(pattern);
    }

    @Override
    public int hashCode() {
        return pattern.hashCode();
    }

    @Override
    public String toString() {
        return pattern;
    }
}
