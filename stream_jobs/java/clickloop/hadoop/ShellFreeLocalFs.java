package clickloop.hadoop;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;

/**
 * The checksummed {@code file:} AbstractFileSystem over {@link ShellFreeRawLocalFs}: set as
 * {@code fs.AbstractFileSystem.file.impl}.
 */
public class ShellFreeLocalFs extends ChecksumFs {

    public ShellFreeLocalFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
        super(new ShellFreeRawLocalFs(uri, conf));
    }
}
