package io.tlsgate.delivery.smtp;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/**
 * Addresses an MX answer must not send mail to: loopback, unspecified (0.0.0.0, ::) and the
 * addresses of this machine's own interfaces (mail would loop back into the gateway, or be
 * steered by a hostile DNS answer at services that trust local callers). Interfaces are read
 * again at most once a minute.
 */
public final class LocalAddresses {

    private static final long REFRESH_NANOS = 60_000_000_000L;
    private static volatile Set<InetAddress> own = Set.of();
    private static volatile long readAt;

    private LocalAddresses() {}

    public static boolean isLocal(InetAddress a) {
        return a.isLoopbackAddress() || a.isAnyLocalAddress() || own().contains(a);
    }

    private static Set<InetAddress> own() {
        long now = System.nanoTime();
        if (readAt == 0 || now - readAt > REFRESH_NANOS) {
            Set<InetAddress> found = new HashSet<>();
            try {
                for (NetworkInterface i : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    found.addAll(Collections.list(i.getInetAddresses()));
                }
            } catch (SocketException e) {
                // Keep the last known set; loopback and unspecified are refused regardless.
                return own;
            }
            own = Set.copyOf(found);
            readAt = now;
        }
        return own;
    }
}
