/// The slice of data a caller may see: one company, and optionally only some of its communities.
///
/// Every tenant query in Courtyard is built by ``ScopedStore`` from a
/// `TenantScope`; there is no API for reading tenant rows without one, so a
/// handler cannot forget to filter.
public struct TenantScope: Sendable, Hashable {
    /// The company (tenant) whose rows are visible.
    public let companyId: String
    /// When set, only rows of these communities are visible; `nil` means every community of the company.
    public let communityIds: Set<String>?

    public init(companyId: String, communityIds: Set<String>? = nil) {
        self.companyId = companyId
        self.communityIds = communityIds
    }

    /// Whether rows of `communityId` are inside this scope.
    public func includes(communityId: String) -> Bool {
        communityIds.map { $0.contains(communityId) } ?? true
    }
}
