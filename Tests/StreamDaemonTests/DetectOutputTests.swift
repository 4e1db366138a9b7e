import Foundation
import QRTCore
import Testing

@testable import StreamDaemon

@Suite struct DetectOutputTests {
    @Test func drawnBoxHasItsCategoryColourOnItsEdgesOnly() {
        let (width, height) = (200, 120)
        var drawing = DetectionDrawing(rgb: [UInt8](repeating: 0, count: width * height * 3), width: width, height: height)
        drawing.draw([Detection(label: "car", categoryID: 3, score: 0.9, box: (x1: 50, y1: 60, x2: 150, y2: 110))])
        func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
            let offset = (y * width + x) * 3
            return (drawing.rgb[offset], drawing.rgb[offset + 1], drawing.rgb[offset + 2])
        }
        let colour = DetectionDrawing.colour(category: 3)
        for (x, y) in [(50, 80), (150, 80), (100, 110), (100, 60), (51, 61)] {
            #expect(pixel(x, y) == colour, "edge pixel (\(x), \(y))")
        }
        #expect(pixel(100, 85) == (0, 0, 0), "inside stays untouched")
        #expect(pixel(10, 10) == (0, 0, 0), "outside stays untouched")
        // The label tab sits above the box and holds ink of the other contrast.
        let tab = (45..<60).flatMap { y in (50..<120).map { pixel($0, y) } }
        #expect(tab.contains { $0 == colour } && tab.contains { $0 != colour })
    }

    @Test func boxesOutsideThePictureAreClipped() {
        var drawing = DetectionDrawing(rgb: [UInt8](repeating: 0, count: 10 * 10 * 3), width: 10, height: 10)
        drawing.draw([Detection(label: "person", categoryID: 1, score: 0.5, box: (x1: -40, y1: -40, x2: 400, y2: 400))])
        #expect(drawing.rgb.count == 300)
    }

    @Test func severalImagesGetNumberedDrawings() {
        #expect(DetectCommand.numbered("/tmp/out.png", index: 0, of: 1) == "/tmp/out.png")
        #expect(DetectCommand.numbered("/tmp/out.png", index: 1, of: 3) == "/tmp/out-2.png")
        #expect(DetectCommand.numbered("/tmp/out", index: 0, of: 2) == "/tmp/out-1")
    }

    @Test func imagesAndVideosAreToldApartByExtension() {
        #expect(DetectCommand.isImage("a/b.JPG") && DetectCommand.isImage("x.png"))
        #expect(!DetectCommand.isImage("clip.mp4") && !DetectCommand.isImage("rtsp-dump"))
    }

    @Test func theEnvironmentChoosesTheDefaultModel() throws {
        #expect(try DefaultModel.locate(environment: [DefaultModel.environmentVariable: "/srv/model"]).path == "/srv/model")
    }

    /// A checkout's build finds the checkout's models/ directory.
    @Test(.enabled(if: FileManager.default.fileExists(
        atPath: TestSupport.repoRoot.appendingPathComponent("models/\(DefaultModel.name)/config.json").path)))
    func theCheckoutsModelIsTheDefault() throws {
        let found = try DefaultModel.locate(environment: [:])
        #expect(found.resolvingSymlinksInPath().path
            == TestSupport.repoRoot.appendingPathComponent("models/\(DefaultModel.name)").resolvingSymlinksInPath().path)
    }
}
