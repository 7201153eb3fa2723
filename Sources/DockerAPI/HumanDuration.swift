/// How Docker words a duration in `ps` ("Up 3 seconds", "Exited (0) 5 minutes ago"),
/// shared by the daemon's container list and the CLI.
public enum HumanDuration {
    public static func text(seconds: Int64) -> String {
        switch seconds {
        case ..<1: return "Less than a second"
        case 1: return "1 second"
        case ..<60: return "\(seconds) seconds"
        case ..<120: return "About a minute"
        case ..<3600: return "\(seconds / 60) minutes"
        case ..<7200: return "About an hour"
        case ..<172_800: return "\(seconds / 3600) hours"
        default: return "\(seconds / 86400) days"
        }
    }

    /// From a measured interval; clamped, so a clock that jumped cannot trap the conversion.
    public static func text(interval: Double) -> String {
        guard interval.isFinite else { return text(seconds: 0) }
        return text(seconds: Int64(min(max(interval, 0), 1e15)))
    }
}
