package io.tlsgate.platform.dns;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.ToDoubleFunction;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The service's {@link DnsResolver}, from {@code tlsgate.dns.*}, with its counters in the
 * metrics ({@code tlsgate_dns_*}).
 */
@ApplicationScoped
public class DnsLayer {

    @Produces
    @Singleton
    DnsResolver resolver(@ConfigProperty(name = "tlsgate.dns.server") Optional<String> servers,
            @ConfigProperty(name = "tlsgate.dns.try-timeout", defaultValue = "2s") Duration tryTimeout,
            @ConfigProperty(name = "tlsgate.dns.attempts", defaultValue = "3") int attempts,
            @ConfigProperty(name = "tlsgate.dns.cache-size", defaultValue = "10000") int cacheSize,
            @ConfigProperty(name = "tlsgate.dns.max-ttl", defaultValue = "1d") Duration maxTtl,
            @ConfigProperty(name = "tlsgate.dns.hosts-file", defaultValue = "/etc/hosts") String hostsFile,
            MeterRegistry registry) {
        if (attempts < 1 || cacheSize < 0 || tryTimeout.isNegative() || tryTimeout.isZero()) {
            throw new IllegalArgumentException("tlsgate.dns: attempts must be at least 1, cache-size at least 0 and"
                    + " try-timeout positive");
        }
        DnsResolver dns = new DnsResolver(new DnsResolver.Settings(DnsResolver.parseServers(servers.orElse("")), tryTimeout,
                attempts, cacheSize, maxTtl, hostsFile.isBlank() ? HostsFile.NONE : HostsFile.of(Path.of(hostsFile))));
        counter(registry, "tlsgate_dns_queries", "DNS questions asked of the layer", dns, s -> s.queries());
        counter(registry, "tlsgate_dns_cache_hits", "questions answered from the cache or a lookup under way", dns,
                s -> s.cacheHits());
        counter(registry, "tlsgate_dns_hosts_hits", "questions answered from the hosts file", dns, s -> s.hostsHits());
        counter(registry, "tlsgate_dns_timeouts", "tries that got no answer in time", dns, s -> s.timeouts());
        counter(registry, "tlsgate_dns_failures", "questions no resolver answered", dns, s -> s.failures());
        Gauge.builder("tlsgate_dns_cached_answers", dns, d -> d.stats().cached()).description("answers in the cache")
                .register(registry);
        return dns;
    }

    private static void counter(MeterRegistry registry, String name, String help, DnsResolver dns,
            ToDoubleFunction<DnsResolver.Stats> f) {
        FunctionCounter.builder(name, dns, d -> f.applyAsDouble(d.stats())).description(help).register(registry);
    }
}
