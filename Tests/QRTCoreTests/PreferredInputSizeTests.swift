import Foundation
import Testing

@testable import QRTCore

@Suite struct PreferredInputSizeTests {
    static func directory(processor: String?) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("preferred-size-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        if let processor {
            try Data(processor.utf8).write(to: url.appendingPathComponent(PreferredInputSize.processorFile))
        }
        return url
    }

    @Test func readsTheProcessorSquareSize() throws {
        let url = try Self.directory(processor: #"{"do_resize": true, "size": {"height": 320, "width": 320}}"#)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try PreferredInputSize.of(url) == 320)
    }

    @Test func noProcessorOrNoSquareSizeMeansNoPreference() throws {
        for processor in [nil, #"{"do_resize": true}"#, #"{"size": {"shortest_edge": 800}}"#] {
            let url = try Self.directory(processor: processor)
            defer { try? FileManager.default.removeItem(at: url) }
            #expect(try PreferredInputSize.of(url) == nil)
        }
    }

    @Test func unusableSizesAreOneLineErrors() throws {
        for processor in [#"{"size": {"height": 320, "width": 640}}"#, #"{"size": {"height": 300, "width": 300}}"#,
                          #"{"size": {"height": 320, "width": 320}"#, "[]"] {
            let url = try Self.directory(processor: processor)
            defer { try? FileManager.default.removeItem(at: url) }
            #expect(throws: CheckpointError.self) { try PreferredInputSize.of(url) }
            do {
                _ = try PreferredInputSize.of(url)
            } catch {
                #expect(!"\(error)".contains("\n"))
                #expect("\(error)".contains(PreferredInputSize.processorFile))
            }
        }
    }

    @Test func readsAnArtifactsMetadata() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("preferred-\(UUID().uuidString).qrt")
        defer { try? FileManager.default.removeItem(at: url) }
        var writer = SafeTensorsWriter(metadata: ["format": "qrt-detr", PreferredInputSize.artifactKey: "416"])
        try writer.add("x", shape: [1], floats: [0])
        try writer.write(to: url)
        #expect(try PreferredInputSize.of(url) == 416)
        var bad = SafeTensorsWriter(metadata: [PreferredInputSize.artifactKey: "41x"])
        try bad.add("x", shape: [1], floats: [0])
        try bad.write(to: url)
        #expect(throws: CheckpointError.self) { try PreferredInputSize.of(url) }
    }
}
