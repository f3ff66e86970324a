package clickloop.hadoop;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.DelegateToFileSystem;

/**
 * The {@code file:} AbstractFileSystem that FileContext users (Structured Streaming's
 * checkpoints) go through, over {@link ShellFreeRawLocalFileSystem}.
 */
public class ShellFreeRawLocalFs extends DelegateToFileSystem {

    public ShellFreeRawLocalFs(URI uri, Configuration conf)
            throws IOException, URISyntaxException {
        super(uri, new ShellFreeRawLocalFileSystem(), conf, "file", false);
    }

    @Override
    public int getUriDefaultPort() {
        return -1;  // file: URIs have no port
    }

    @Override
    public boolean isValidName(String src) {
        return true;  // any local name is valid (HDFS's rules, such as no ':', do not apply)
    }
}
