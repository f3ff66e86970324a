package clickloop.hadoop;

import org.apache.hadoop.fs.LocalFileSystem;

/**
 * The {@code file:} FileSystem (checksummed, as Hadoop's own) over
 * {@link ShellFreeRawLocalFileSystem}: set as {@code fs.file.impl}.
 */
public class ShellFreeLocalFileSystem extends LocalFileSystem {

    public ShellFreeLocalFileSystem() {
        super(new ShellFreeRawLocalFileSystem());
    }
}
