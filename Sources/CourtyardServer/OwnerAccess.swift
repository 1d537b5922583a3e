import CourtyardDomain
import CourtyardStorage
import Foundation

/// What an owner may read of a house: the one rule every owner-side route applies.
///
/// An owner account sees a house while one of its person's occupancies of the house holds today (in the community's
/// zone), and sees only what happened since that occupancy began: a past occupant is refused, and a new owner does not
/// see the previous owner's usage. Staff are scoped by their permission and communities instead.
enum OwnerAccess {
    /// The owner's current hold on a house: the tenant scope and the first day of the occupancy that holds today.
    struct Hold: Sendable {
        var scope: TenantScope
        var since: LocalDate
        var timeZone: String

        /// The first instant (ms) the owner may see: local midnight of ``since``.
        var sinceMilliseconds: Int64 {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .current
            let start = calendar.date(from: DateComponents(year: since.year, month: since.month, day: since.day)) ?? .distantPast
            return start.epochMilliseconds
        }
    }

    /// The owner's current hold on `house`, or `nil` when the person holds or lives in it on no occupancy valid today.
    static func hold(_ principal: Principal, house: String, services: ServerServices) async throws -> Hold? {
        guard principal.role == .owner, let scope = principal.scope, let person = principal.user.personId else { return nil }
        let now = services.clock.now()
        return try await services.database.read { db -> Hold? in
            let store = ScopedStore(db, scope: scope)
            let occupancies = try await store.listAll(Occupancy.self, filters: [("person_id", person), ("house_id", house)])
            var best: Hold? = nil
            for occupancy in occupancies {
                guard let community = try await store.find(Community.self, id: occupancy.communityId) else { continue }
                let today = LocalDate.of(now, timeZone: community.timeZone)
                guard occupancy.validFrom <= today, occupancy.validUntil.map({ today < $0 }) ?? true else { continue }
                if best == nil || occupancy.validFrom < best!.since {
                    best = Hold(scope: scope, since: occupancy.validFrom, timeZone: community.timeZone)
                }
            }
            return best
        }
    }

    /// The houses the owner holds or lives in today.
    static func currentHouses(_ principal: Principal, services: ServerServices) async throws -> [House] {
        guard principal.role == .owner, let scope = principal.scope, let person = principal.user.personId else { return [] }
        let now = services.clock.now()
        return try await services.database.read { db -> [House] in
            let store = ScopedStore(db, scope: scope)
            var houses: [House] = []
            for occupancy in try await store.listAll(Occupancy.self, filters: [("person_id", person)]) {
                guard let community = try await store.find(Community.self, id: occupancy.communityId) else { continue }
                let today = LocalDate.of(now, timeZone: community.timeZone)
                guard occupancy.validFrom <= today, occupancy.validUntil.map({ today < $0 }) ?? true,
                    !houses.contains(where: { $0.id == occupancy.houseId }),
                    let house = try await store.find(House.self, id: occupancy.houseId)
                else { continue }
                houses.append(house)
            }
            return houses
        }
    }

    /// The scope in which the caller may read `house`: an owner's while they hold it today, else staff's with `permission`
    /// whose communities include the house's. Anyone else gets 404, as if the house did not exist: a community-scoped
    /// clerk must not read another community's payments, receipts or orders by their ids.
    static func houseScope(
        _ context: CourtyardRequestContext, house: String, staff permission: Permission,
        services: ServerServices
    ) async throws -> TenantScope {
        let principal = try context.requirePrincipal()
        guard principal.role == .owner else {
            let scope = try context.scope(for: permission)
            if scope.communityIds != nil {
                let visible = try await services.database.read { db in try await ScopedStore(db, scope: scope).find(House.self, id: house) != nil }
                guard visible else { throw Problem.notFound("house") }
            }
            return scope
        }
        guard let hold = try await hold(principal, house: house, services: services) else { throw Problem.notFound("house") }
        return hold.scope
    }
}
