package io.tlsgate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class TableTest {

    @Test
    void columnsAreAlignedTwoSpacesApartWithoutTrailingBlanks() {
        StringWriter s = new StringWriter();
        new Table("DOMAIN", "TLS", "NOTE").row("example.com", "REQUIRED", null).row("a", "NONE", "x\ny").print(new PrintWriter(s));
        assertEquals("DOMAIN       TLS       NOTE\nexample.com  REQUIRED  -\na            NONE      x y\n",
                s.toString().replace(System.lineSeparator(), "\n"));
    }
}
