import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import Hummingbird
import Logging
import NIOFoundationEssentialsCompat

/// The five generic routes of an ``APIResource`` collection, all going through ``ScopedStore``.
enum ResourceRoutes {
    static let defaultLimit = 50
    static let maxLimit = 500

    static func register<R: APIResource>(_ type: R.Type, on api: DocumentedRouter, services: ServerServices) {
        let base = "/api/v1/\(R.path)"
        let name = R.displayName
        api.schema(name, example: R.example, freeForm: R.freeFormFields)
        api.schema("\(name)Input", example: R.exampleInput, required: R.requiredInputFields, freeForm: R.freeFormFields)
        api.schema("\(name)Page", example: Page(items: [R.example], nextCursor: R.example.id), freeForm: R.freeFormFields)

        api.on(
            .get, base, summary: "List \(R.path)", tag: name, permission: R.readPermission, response: "\(name)Page",
            query: ["limit", "cursor"] + R.filters
        ) { request, context in
            let scope = try context.scope(for: R.readPermission)
            // The monitoring panel asks for devices by presence (`?status=offline`), which lives beside the registry.
            if R.self == Device.self, let status = request.uri.queryParameters["status"], status == "online" || status == "offline" {
                return try .json(try await IngestRoutes.presence(request, scope: scope, services: services))
            }
            let (filters, cursor, limit) = try listParameters(request, filters: R.filters)
            let page = try await services.database.read { db in
                try await ScopedStore(db, scope: scope).list(R.self, filters: filters, after: cursor, limit: limit)
            }
            return try .json(Page(items: page.items, nextCursor: page.nextCursor))
        }

        api.on(
            .post, base, summary: "Create a \(name)", tag: name, permission: R.writePermission,
            request: "\(name)Input", response: name, status: 201
        ) { request, context in
            let scope = try context.scope(for: R.writePermission)
            let input = try await decodeBody(R.Input.self, request, context)
            let now = services.clock.now()
            let id = Identifier.uuidV7(at: now)
            let record = try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                let record = try await R.make(input, id: id, existing: nil, now: now, store: store)
                try await store.insert(record)
                return record
            }
            var logger = context.logger
            logger[metadataKey: "community"] = .string(record.communityId)
            logger.info("created", metadata: ["table": .string(R.table), "id": .string(record.id)])
            if R.self == Device.self { await services.ingestor.directory.invalidate(companyId: scope.companyId) }
            return try .json(record, status: .created, location: "\(base)/\(record.id)")
        }

        api.on(
            .get, "\(base)/:id", summary: "Get a \(name)", tag: name, permission: R.readPermission,
            response: name
        ) { _, context in
            let id = try context.parameters.require("id")
            let scope: TenantScope
            if let principal = context.principal, principal.role == .owner, R.self == Community.self || R.self == Building.self,
                let ownerScope = principal.scope
            {
                // Owners read the community and building of a house they hold or live in today, and no other.
                let houses = try await OwnerAccess.currentHouses(principal, services: services)
                guard houses.contains(where: { R.self == Community.self ? $0.communityId == id : $0.buildingId == id }) else {
                    throw Problem.notFound(Problem.noun(R.table))
                }
                scope = ownerScope
            } else {
                scope = try context.scope(for: R.readPermission)
            }
            let record = try await services.database.read { db in try await ScopedStore(db, scope: scope).get(R.self, id: id) }
            context.logger.debug("read", metadata: ["table": .string(R.table), "id": .string(id), "community": .string(record.communityId)])
            return try .json(record)
        }

        api.on(
            .patch, "\(base)/:id", summary: "Change a \(name) (fields not sent keep their value; null clears)",
            tag: name, permission: R.writePermission, request: "\(name)Input", response: name
        ) { request, context in
            let scope = try context.scope(for: R.writePermission)
            let id = try context.parameters.require("id")
            let patch = try await decodeBody(JSONValue.self, request, context)
            guard case .object(let changes) = patch else {
                throw Problem(.badRequest, code: "malformed_json", title: "A PATCH body must be a JSON object")
            }
            let now = services.clock.now()
            let record = try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                let existing = try await store.get(R.self, id: id)
                let input = try merge(existing.input, with: changes)
                let record = try await R.make(input, id: id, existing: existing, now: now, store: store)
                try await store.update(record)
                return record
            }
            context.logger.info("updated", metadata: ["table": .string(R.table), "id": .string(id), "community": .string(record.communityId)])
            if R.self == Device.self { await services.ingestor.directory.invalidate(companyId: scope.companyId) }
            return try .json(record)
        }

        api.on(
            .delete, "\(base)/:id", summary: "Delete a \(name) that nothing refers to", tag: name,
            permission: R.writePermission, status: 204
        ) { _, context in
            let scope = try context.scope(for: R.writePermission)
            let id = try context.parameters.require("id")
            try await services.database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                if let record = try await store.find(R.self, id: id) { try await R.checkDelete(record, store: store) }
                try await store.delete(R.self, id: id)
            }
            context.logger.info("deleted", metadata: ["table": .string(R.table), "id": .string(id)])
            if R.self == Device.self { await services.ingestor.directory.invalidate(companyId: scope.companyId) }
            return Response(status: .noContent)
        }
    }

    /// Reads a JSON body as `T`; every failure is a problem naming the field.
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, _ context: CourtyardRequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw Problem(.contentTooLarge, code: "body_too_large", title: "The request body is too large")
        }
        let data = Data(buffer: buffer)
        if T.self == JSONValue.self {
            // The typed path checks control characters in APICoding.decode; this one reads JSON itself.
            if let bad = InputText.escapedControlCharacter(inJSON: data) {
                throw Problem(
                    .unprocessableContent, code: "control_character", title: "The body contains a control character",
                    detail: "\(bad) is not allowed in any value")
            }
            do {
                return try JSONDecoder().decode(T.self, from: data)
            } catch let DecodingError.dataCorrupted(context) {
                throw Problem.malformedJSON(APICoding.syntaxMessage(context))
            } catch {
                throw Problem.malformedJSON("the body is not valid JSON")
            }
        }
        return try APICoding.decode(T.self, from: data)
    }

    /// `existing` with the fields of `changes` replaced.
    static func merge<Input: Codable>(_ existing: Input, with changes: [String: JSONValue]) throws -> Input {
        let base = try JSONDecoder().decode(JSONValue.self, from: APICoding.encoder.encode(existing))
        guard case .object(var fields) = base else { return existing }
        for (key, value) in changes { fields[key] = value }
        return try APICoding.decode(Input.self, from: JSONEncoder().encode(JSONValue.object(fields)))
    }

    /// What a route's cursors look like, so a cursor that no page of it could have returned is refused (422), not
    /// answered with an empty page.
    enum CursorFormat {
        /// The last row's id (a UUID).
        case identifier
        /// The route parses its own cursor and refuses a malformed one itself.
        case own
    }

    /// The page size from `?limit=`: an integer from 1 to `maximum` (422 otherwise, never clamped in silence).
    static func limit(_ request: Request, default value: Int, maximum: Int) throws(Problem) -> Int {
        guard let text = request.uri.queryParameters["limit"] else { return value }
        guard let limit = Int(String(text)), (1...maximum).contains(limit) else {
            throw Problem.invalid("limit", code: "out_of_range", "limit must be an integer from 1 to \(maximum)")
        }
        return limit
    }

    /// Filters, cursor and page size from the query string, validated.
    static func listParameters(
        _ request: Request, filters allowed: [String], cursor format: CursorFormat = .identifier
    ) throws(Problem)
        -> (filters: [(column: String, value: String)], cursor: String?, limit: Int)
    {
        let query = request.uri.queryParameters
        let limit = try limit(request, default: defaultLimit, maximum: maxLimit)
        let cursor = query["cursor"].map(String.init)
        if let cursor {
            let plausible =
                switch format {
                case .identifier: Identifier.isValid(cursor)
                case .own: (1...200).contains(cursor.utf8.count) && cursor.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
                }
            guard plausible else { throw Problem.invalid("cursor", code: "invalid_cursor", "cursor must be a next_cursor from the previous page") }
        }
        var filters: [(column: String, value: String)] = []
        for name in allowed {
            if let value = query[Substring(name)] { filters.append((name, String(value))) }
        }
        return (filters, cursor, limit)
    }
}
