import Foundation

/// A valve's, switch's or barrier's position: what Courtyard wants, or what the device reports.
public enum SupplyPosition: String, Codable, Sendable, Hashable {
    case open, closed
}
