package io.tlsgate.delivery.grpc;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code TLS-Required: No} (RFC 8689 §5) in the header section only, however the content is cut into chunks. */
class TlsRequiredHeaderTest {

    @Test
    void foundInTheHeaderSectionAcrossChunksFoldedOrNot() {
        assertTrue(no("Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n", 1));
        assertTrue(no("Subject: x\r\ntls-required:\r\n   NO \r\n\r\nbody\r\n", 3));
        assertTrue(no("TLS-Required:No\r\n\r\n", 1000));
    }

    @Test
    void notInTheBodyNorAnotherValueNorAnotherField() {
        assertFalse(no("Subject: x\r\n\r\nTLS-Required: No\r\n", 2));
        assertFalse(no("TLS-Required: Nope\r\n\r\n", 4));
        assertFalse(no("X-TLS-Required: No\r\n\r\n", 1));
        assertFalse(no("Subject: TLS-Required: No\r\n\r\n", 1));
    }

    @Test
    void aHeaderSectionPastTheLimitIsNotSearchedFurther() {
        String filler = "X-Filler: " + "a".repeat(998) + "\r\n";
        assertFalse(no(filler.repeat(TlsRequiredHeader.LIMIT / filler.length() + 1) + "TLS-Required: No\r\n\r\n", 7));
    }

    /** The content fed in pieces of {@code size} bytes. */
    private static boolean no(String content, int size) {
        TlsRequiredHeader h = new TlsRequiredHeader();
        byte[] b = content.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < b.length; i += size) {
            h.feed(ByteString.copyFrom(b, i, Math.min(size, b.length - i)));
        }
        return h.no();
    }
}
