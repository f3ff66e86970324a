package clickloop.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's raw local file system, setting permissions through java.nio instead of a chmod
 * process.
 *
 * <p>Without Hadoop's native library (which no Maven artifact ships), RawLocalFileSystem forks
 * {@code chmod} for every file and directory it creates: two processes per Parquet file and two
 * per partition directory. Writing a year of daily partitions then spends more time forking
 * than writing. Everything else is inherited unchanged.
 */
public class ShellFreeRawLocalFileSystem extends RawLocalFileSystem {

    private static final PosixFilePermission[] BITS = {
        PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE,
        PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
        PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_READ,
    };

    /** The rwx bits of a Hadoop permission (bit i of the mode is BITS[i]). */
    static Set<PosixFilePermission> posix(FsPermission permission) {
        int mode = permission.toShort();
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < BITS.length; i++) {
            if ((mode & (1 << i)) != 0) {
                out.add(BITS[i]);
            }
        }
        return out;
    }

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
        // the sticky bit has no java.nio form: leave such a request to chmod
        if (permission.getStickyBit()) {
            super.setPermission(p, permission);
            return;
        }
        try {
            Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(permission));
        } catch (UnsupportedOperationException e) {  // not a POSIX file system
            super.setPermission(p, permission);
        }
    }
}
