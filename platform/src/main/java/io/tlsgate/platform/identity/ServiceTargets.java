package io.tlsgate.platform.identity;

import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a service's replicas are, as configured: {@code host:port} (a DNS name that may stand
 * for several addresses, such as a Kubernetes headless Service: every address it resolves to is
 * used, and it is resolved again when a connection fails), or a comma-separated list
 * {@code host1:port1,host2:port2} of fixed replicas (devstack's extra replicas, hosts without DNS).
 * Calls are spread round-robin over the replicas that are connected; a replica that goes away
 * takes only the calls that were on it.
 */
final class ServiceTargets {

    static final String STATIC_SCHEME = "tlsgate-replicas";

    static {
        // Our own scheme only: the registry keeps choosing DNS for everything else.
        NameResolverRegistry.getDefaultRegistry().register(new Provider());
    }

    private ServiceTargets() {}

    /** Points {@code builder} (made for {@link #channelTarget}) to spread calls round-robin. */
    static <T extends ManagedChannelBuilder<T>> T configure(T builder) {
        return builder.defaultLoadBalancingPolicy("round_robin");
    }

    /** The target to build the channel for: the list under our own scheme, anything else as given. */
    static String channelTarget(String target) {
        if (!isList(target)) {
            return target;
        }
        // A URI path: no blanks, and IPv6 brackets escaped (getPath() gives them back).
        return STATIC_SCHEME + ":///" + target.replaceAll("\\s+", "").replace("[", "%5B").replace("]", "%5D");
    }

    private static boolean isList(String target) {
        return target.contains(",");
    }

    /** The addresses of a comma-separated {@code host:port} list; IPv6 literals in brackets. */
    static List<InetSocketAddress> parse(String list) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String part : list.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int colon = p.lastIndexOf(':');
            if (colon <= 0 || colon == p.length() - 1) {
                throw new IllegalArgumentException("not host:port: '" + p + "' in '" + list + "'");
            }
            String host = p.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(p.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a port: '" + p + "' in '" + list + "'");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range: '" + p + "' in '" + list + "'");
            }
            out.add(InetSocketAddress.createUnresolved(host, port));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no address in '" + list + "'");
        }
        return out;
    }

    private static final class Provider extends NameResolverProvider {
        @Override
        public NameResolver newNameResolver(URI uri, NameResolver.Args args) {
            if (!STATIC_SCHEME.equals(uri.getScheme())) {
                return null;
            }
            String list = uri.getPath().startsWith("/") ? uri.getPath().substring(1) : uri.getPath();
            List<InetSocketAddress> addresses = parse(list);
            return new NameResolver() {
                @Override
                public String getServiceAuthority() {
                    return addresses.get(0).getHostString();
                }

                private Listener2 listener;

                @Override
                public void start(Listener2 listener) {
                    this.listener = listener;
                    resolve(listener);
                }

                private void resolve(Listener2 listener) {
                    List<EquivalentAddressGroup> groups = new ArrayList<>();
                    for (InetSocketAddress a : addresses) {
                        // Resolved now (again on refresh), so that a host name that moves is followed.
                        InetSocketAddress resolved = new InetSocketAddress(a.getHostString(), a.getPort());
                        if (!resolved.isUnresolved()) {
                            groups.add(new EquivalentAddressGroup(List.<SocketAddress>of(resolved)));
                        }
                    }
                    if (groups.isEmpty()) {
                        listener.onResult2(ResolutionResult.newBuilder()
                                .setAddressesOrError(StatusOr.fromStatus(Status.UNAVAILABLE.withDescription(
                                        "none of " + addresses + " resolves")))
                                .build());
                        return;
                    }
                    listener.onResult2(ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromValue(groups)).build());
                }

                @Override
                public void refresh() {
                    if (listener != null) {
                        resolve(listener);
                    }
                }

                @Override
                public void shutdown() {}
            };
        }

        @Override
        public String getDefaultScheme() {
            return STATIC_SCHEME;
        }

        @Override
        protected boolean isAvailable() {
            return true;
        }

        @Override
        protected int priority() {
            return 1; // below DNS (5): the default scheme stays dns
        }

        @Override
        public java.util.Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
            return List.of(InetSocketAddress.class);
        }
    }
}
