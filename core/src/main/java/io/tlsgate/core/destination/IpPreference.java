package io.tlsgate.core.destination;

/** Which address family delivery tries first, or only (docs/destination-controls.md {@code ipPreference}). */
public enum IpPreference {
    IPV6_PREFERRED("PREFER_V6"),
    IPV4_PREFERRED("PREFER_V4"),
    IPV6_ONLY("REQUIRE_V6"),
    IPV4_ONLY("REQUIRE_V4");

    private final String applianceName;

    IpPreference(String applianceName) {
        this.applianceName = applianceName;
    }

    /** The appliance's {@code ip_sort_pref} value. */
    public String applianceName() {
        return applianceName;
    }

    /** From the appliance's {@code ip_sort_pref} value (case-insensitive). */
    public static IpPreference fromAppliance(String v) {
        for (IpPreference p : values()) {
            if (p.applianceName.equalsIgnoreCase(v.trim())) {
                return p;
            }
        }
        throw new IllegalArgumentException("'" + v + "' is not one of PREFER_V6, REQUIRE_V6, PREFER_V4, REQUIRE_V4");
    }
}
