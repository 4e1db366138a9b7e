import Decode
import Foundation
import Testing

@Suite("PNGWriter")
struct PNGWriterTests {
    /// PNG is lossless: what is written reads back byte for byte, at odd sizes too.
    @Test func roundTripsThroughImageReader() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (width, height) in [(1, 1), (97, 31), (640, 480)] {
            var state: UInt32 = 12345
            let rgb = (0..<(width * height * 3)).map { _ -> UInt8 in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(truncatingIfNeeded: state >> 24)
            }
            let path = directory.appendingPathComponent("picture-\(width)x\(height).png").path
            try PNGWriter.write(rgb: rgb, width: width, height: height, to: path)
            let read = try ImageReader.read(path: path, width: width, height: height)
            #expect(read.sourceWidth == width && read.sourceHeight == height)
            #expect(read.rgb == rgb, "\(width)x\(height)")
        }
    }

    @Test func rejectsAMismatchedBufferAndAnUnwritablePath() {
        #expect(throws: PNGWriter.Error.self) { try PNGWriter.write(rgb: [0, 0], width: 1, height: 1, to: "/tmp/x.png") }
        #expect(throws: PNGWriter.Error.self) {
            try PNGWriter.write(rgb: [0, 0, 0], width: 1, height: 1, to: "/nonexistent-dir/x.png")
        }
    }
}
