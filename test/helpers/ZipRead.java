// Reads a zip with Java's own java.util.zip, for test/core/zipWriter.test.ts.
//   java ZipRead.java stream FILE   ZipInputStream: every entry in order, from the local headers
//   java ZipRead.java list FILE     ZipFile: the central directory; reads entries under 1 MiB
// Prints one line per entry: name, method, size, compressed size, crc32, mtime (ms), directory.
// Any inconsistency makes java.util.zip throw, and the program exit non-zero.
import java.io.BufferedInputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

public class ZipRead {
  static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
  static final byte[] BUF = new byte[1 << 16];

  /** Reads the rest of `in`; returns {bytes, crc32}. */
  static long[] drain(InputStream in) throws Exception {
    CRC32 crc = new CRC32();
    long n = 0;
    for (int r; (r = in.read(BUF)) > 0; n += r) crc.update(BUF, 0, r);
    return new long[] { n, crc.getValue() };
  }

  static void print(ZipEntry e, long size, long compressed, long crc) {
    long mtime = e.getLastModifiedTime() == null ? -1 : e.getLastModifiedTime().toMillis();
    OUT.println(e.getName() + "\t" + e.getMethod() + "\t" + size + "\t" + compressed + "\t" + crc + "\t" + mtime + "\t" + e.isDirectory());
  }

  public static void main(String[] args) throws Exception {
    if (args[0].equals("stream")) {
      try (ZipInputStream in = new ZipInputStream(new BufferedInputStream(new FileInputStream(args[1]), 1 << 16), StandardCharsets.UTF_8)) {
        for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
          long[] got = drain(in);
          // After the data (and a data descriptor, if any) the entry knows its sizes and CRC.
          if (e.getSize() != got[0] || e.getCrc() != got[1]) throw new IllegalStateException(e.getName() + ": sizes or crc do not match the data");
          print(e, got[0], e.getCompressedSize(), got[1]);
        }
      }
    } else {
      try (ZipFile z = new ZipFile(args[1], StandardCharsets.UTF_8)) {
        for (Enumeration<? extends ZipEntry> en = z.entries(); en.hasMoreElements(); ) {
          ZipEntry e = en.nextElement();
          long crc = e.getCrc();
          if (e.getSize() < (1 << 20)) {
            try (InputStream in = z.getInputStream(e)) {
              long[] got = drain(in);
              if (got[0] != e.getSize() || got[1] != crc) throw new IllegalStateException(e.getName() + ": data does not match the central directory");
            }
          }
          print(e, e.getSize(), e.getCompressedSize(), crc);
        }
      }
    }
  }
}
