package io.tlsgate.delivery.queue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A message to enqueue: envelope, content and where it came from.
 *
 * @param mailFrom envelope sender; empty for the null reverse-path
 * @param data the content, in memory or spooled to a file (read once, when it is stored)
 * @param tls how it came in
 * @param tlsRequest what its sender asked of its transport security (RFC 8689)
 */
public record NewMessage(String mailFrom, List<String> recipients, Content data, long size, long icid, String listener,
        TlsFacts tls, TlsRequest tlsRequest) {

    /** A message whose sender asked nothing of its transport. */
    public NewMessage(String mailFrom, List<String> recipients, Content data, long size, long icid, String listener,
            TlsFacts tls) {
        this(mailFrom, recipients, data, size, icid, listener, tls, TlsRequest.NORMAL);
    }

    /** The inbound connection's TLS facts. */
    public record TlsFacts(String protocol, String cipher, String clientSubject, boolean clientVerified) {
        public static final TlsFacts NONE = new TlsFacts(null, null, null, false);
    }

    /** Where the content is: {@link #bytes()} when it is in memory, else {@link #open()} streams it. */
    public interface Content {
        /** The content when it is held in memory, else null. */
        byte[] bytes();

        InputStream open() throws IOException;

        static Content of(byte[] bytes) {
            return new Content() {
                @Override
                public byte[] bytes() {
                    return bytes;
                }

                @Override
                public InputStream open() {
                    return new ByteArrayInputStream(bytes);
                }
            };
        }

        static Content of(Path file) {
            return new Content() {
                @Override
                public byte[] bytes() {
                    return null;
                }

                @Override
                public InputStream open() throws IOException {
                    return Files.newInputStream(file);
                }
            };
        }
    }
}
