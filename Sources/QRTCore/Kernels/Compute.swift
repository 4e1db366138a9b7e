/// Process-wide compute settings.
public enum Compute {
    /// Sets the size of the one compute thread pool (oneDNN's OpenMP pool).
    public static func setThreads(_ count: Int) { DNNL.setThreads(count) }
}
