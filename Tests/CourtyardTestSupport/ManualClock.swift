import CourtyardDomain
import Foundation
import Synchronization

/// A clock that only moves when a test moves it.
public final class ManualClock: WallClock {
    // Mutex makes the shared instant safe to read from request handlers while the test advances it.
    private let instant: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        self.instant = Mutex(start)
    }

    public func now() -> Date { instant.withLock { $0 } }

    /// Moves time forward by `seconds`.
    public func advance(seconds: TimeInterval) {
        instant.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A clock that always answers the same instant.
public struct FixedClock: WallClock {
    public var instant: Date
    public init(_ instant: Date) { self.instant = instant }
    public init(instant: Date) { self.instant = instant }
    public func now() -> Date { instant }
}
