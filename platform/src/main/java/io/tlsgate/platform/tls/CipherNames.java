package io.tlsgate.platform.tls;

/** Cipher suite names as the mail log spells them (OpenSSL's names, as mail logs of other MTAs use them: docs/delivery.md). */
public final class CipherNames {

    private CipherNames() {
    }

    /** The OpenSSL name of a JSSE cipher suite ({@code ECDHE-RSA-AES256-GCM-SHA384}), else the name as given. */
    public static String openSsl(String javaName) {
        String name = io.netty.handler.ssl.CipherSuiteConverter.toOpenSsl(javaName, false);
        return name == null ? javaName : name;
    }
}
