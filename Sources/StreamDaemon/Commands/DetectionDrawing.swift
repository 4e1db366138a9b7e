import Foundation
import QRTCore

/// Detections drawn onto an RGB24 picture so a person can check them (`detect --draw`): a box per
/// detection in its category's colour, and above it a tab with "label 0.87" in a built-in 3×5
/// pixel font scaled ×2 (no font library needed; lower-case labels render in capitals).
struct DetectionDrawing {
    private(set) var rgb: [UInt8]
    let width: Int
    let height: Int

    init(rgb: [UInt8], width: Int, height: Int) {
        precondition(rgb.count == width * height * 3)
        self.rgb = rgb
        self.width = width
        self.height = height
    }

    /// Distinct, saturated colours; a category keeps its colour across images.
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190),
    ]

    static func colour(category: Int) -> (UInt8, UInt8, UInt8) { palette[abs(category) % palette.count] }

    /// Lower-scored detections first, so the most confident boxes and labels end up on top.
    mutating func draw(_ detections: [Detection]) {
        let thickness = max(2, min(width, height) / 300)
        for detection in detections.sorted(by: { $0.score < $1.score }) {
            let colour = Self.colour(category: detection.categoryID)
            let x1 = clampX(detection.box.x1), x2 = clampX(detection.box.x2)
            let y1 = clampY(detection.box.y1), y2 = clampY(detection.box.y2)
            fill(x1, y1, x2, min(y2, y1 + thickness - 1), colour)
            fill(x1, max(y1, y2 - thickness + 1), x2, y2, colour)
            fill(x1, y1, min(x2, x1 + thickness - 1), y2, colour)
            fill(max(x1, x2 - thickness + 1), y1, x2, y2, colour)
            label("\(detection.label) \(String(format: "%.2f", detection.score))", x: x1, boxTop: y1, colour: colour)
        }
    }

    private func clampX(_ value: Float) -> Int { Int(min(max(value.rounded(), 0), Float(width - 1))) }
    private func clampY(_ value: Float) -> Int { Int(min(max(value.rounded(), 0), Float(height - 1))) }

    /// Fills the inclusive rectangle, clipped to the picture.
    private mutating func fill(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int, _ colour: (UInt8, UInt8, UInt8)) {
        let (left, right) = (max(0, x1), min(width - 1, x2))
        let (top, bottom) = (max(0, y1), min(height - 1, y2))
        guard left <= right, top <= bottom else { return }
        for y in top...bottom {
            var offset = (y * width + left) * 3
            for _ in left...right {
                rgb[offset] = colour.0
                rgb[offset + 1] = colour.1
                rgb[offset + 2] = colour.2
                offset += 3
            }
        }
    }

    private static let scale = 2
    private static let advance = 4 * scale  // 3 columns + 1 of spacing

    /// A filled tab holding `text`, above the box where there is room, else inside it.
    private mutating func label(_ text: String, x: Int, boxTop: Int, colour: (UInt8, UInt8, UInt8)) {
        let glyphs = Array(text.lowercased())
        let tabWidth = glyphs.count * Self.advance + Self.scale * 2
        let tabHeight = 5 * Self.scale + Self.scale * 2
        let top = boxTop >= tabHeight ? boxTop - tabHeight : boxTop
        fill(x, top, x + tabWidth - 1, top + tabHeight - 1, colour)
        let luminance = 0.299 * Double(colour.0) + 0.587 * Double(colour.1) + 0.114 * Double(colour.2)
        let ink: (UInt8, UInt8, UInt8) = luminance > 140 ? (0, 0, 0) : (255, 255, 255)
        for (index, character) in glyphs.enumerated() {
            let rows = Self.font[character] ?? Self.font["?"]!
            let left = x + Self.scale + index * Self.advance
            for (row, bits) in rows.enumerated() {
                for column in 0..<3 where bits & (4 >> column) != 0 {
                    let px = left + column * Self.scale, py = top + Self.scale + row * Self.scale
                    fill(px, py, px + Self.scale - 1, py + Self.scale - 1, ink)
                }
            }
        }
    }

    /// 3×5 glyphs, one value per row: bit 4 is the left column, bit 1 the right.
    private static let font: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 3, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0],
        " ": [0, 0, 0, 0, 0], "?": [7, 1, 2, 0, 2],
        "a": [2, 5, 7, 5, 5], "b": [6, 5, 6, 5, 6], "c": [3, 4, 4, 4, 3], "d": [6, 5, 5, 5, 6],
        "e": [7, 4, 6, 4, 7], "f": [7, 4, 6, 4, 4], "g": [3, 4, 5, 5, 3], "h": [5, 5, 7, 5, 5],
        "i": [7, 2, 2, 2, 7], "j": [1, 1, 1, 5, 2], "k": [5, 5, 6, 5, 5], "l": [4, 4, 4, 4, 7],
        "m": [5, 7, 7, 5, 5], "n": [6, 5, 5, 5, 5], "o": [2, 5, 5, 5, 2], "p": [6, 5, 6, 4, 4],
        "q": [2, 5, 5, 6, 3], "r": [6, 5, 6, 5, 5], "s": [3, 4, 2, 1, 6], "t": [7, 2, 2, 2, 2],
        "u": [5, 5, 5, 5, 7], "v": [5, 5, 5, 5, 2], "w": [5, 5, 7, 7, 5], "x": [5, 5, 2, 5, 5],
        "y": [5, 5, 2, 2, 2], "z": [7, 1, 2, 4, 7],
    ]
}
