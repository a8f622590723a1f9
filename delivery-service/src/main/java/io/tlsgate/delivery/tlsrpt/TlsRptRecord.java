package io.tlsgate.delivery.tlsrpt;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A domain's TLSRPT record (RFC 8460 §3): the TXT record at {@code _smtp._tls.<domain>},
 * {@code v=TLSRPTv1; rua=mailto:reports@example.net,https://reports.example.net/v1}, with the
 * report URIs it names ({@code mailto:} and {@code https:} only; others are ignored).
 */
public record TlsRptRecord(List<URI> rua) {

    /** The record among a name's TXT strings (each joined already), or null when there is none or more than one. */
    public static TlsRptRecord of(List<String> txt) {
        List<String> records = txt.stream().filter(t -> t.trim().startsWith("v=TLSRPTv1")).toList();
        if (records.size() != 1) {
            return null;
        }
        List<URI> rua = new ArrayList<>();
        for (String field : records.get(0).split(";")) {
            String f = field.trim();
            int eq = f.indexOf('=');
            if (eq < 0 || !f.substring(0, eq).trim().equals("rua")) {
                continue;
            }
            for (String u : f.substring(eq + 1).split(",")) {
                try {
                    URI uri = URI.create(u.trim());
                    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
                    if ((scheme.equals("mailto") && uri.getSchemeSpecificPart().contains("@"))
                            || (scheme.equals("https") && uri.getHost() != null)) {
                        rua.add(uri);
                    }
                } catch (IllegalArgumentException e) {
                    // not a URI: skipped
                }
            }
        }
        return rua.isEmpty() ? null : new TlsRptRecord(List.copyOf(rua));
    }
}
