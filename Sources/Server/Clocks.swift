import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The two clocks the drivers read, in one place so that the pure state machines never do.
public enum Clocks {
    /// Monotonic time since boot, for timeouts and throttling.
    public static func monotonic() -> Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    /// Wall-clock seconds since 1970, for arrival times, Received headers and queue IDs.
    public static func wallSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
