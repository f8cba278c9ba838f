/// The release this build is: `relaygate --version` prints it, and the server's first log line carries it.
/// Raised by hand at each release (semantic versioning: the minor number while the spool format or the
/// configuration may still change incompatibly).
public enum RelaygateVersion {
    public static let current = "0.11.0"
}
