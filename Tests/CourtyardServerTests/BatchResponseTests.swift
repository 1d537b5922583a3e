import CourtyardIngest
import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import Testing

@testable import CourtyardServer

/// The hand-written batch answer says exactly what JSONEncoder would.
@Suite struct BatchResponseTests {
    @Test func theHandWrittenAnswerEqualsTheEncodedOne() async throws {
        let items = [
            Ingestor.ItemResult(index: 0, status: "accepted", readingId: "01a0-1", usage: "1.250"),
            Ingestor.ItemResult(
                index: 1, status: "rejected", code: "invalid_device_id", field: "device_id",
                message: "quote \" backslash \\ tab \t newline \n bell \u{7} 水表 😀"),
            Ingestor.ItemResult(index: 2, status: "held_for_review", heldId: "01a0-2", code: "conflict", message: "x"),
            Ingestor.ItemResult(index: 3, status: "duplicate", readingId: "01a0-3"),
        ]
        let result = IngestRoutes.BatchResult(items)
        let response = IngestRoutes.response(result)
        let body = response.body
        var collected = ByteBuffer()
        let writer = CollectingWriter()
        try await body.write(writer)
        collected = await writer.buffer
        let hand = try JSONSerialization.jsonObject(with: Data(collected.readableBytesView)) as! NSDictionary
        let encoded = try JSONSerialization.jsonObject(with: APICoding.encoder.encode(result)) as! NSDictionary
        #expect(hand == encoded)
        _ = body
    }
}

/// Collects a response body.
actor CollectingWriter: ResponseBodyWriter {
    var buffer = ByteBuffer()
    func write(_ buffer: ByteBuffer) async throws {
        var copy = buffer
        self.buffer.writeBuffer(&copy)
    }
    nonisolated func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
