//! Runs the document pipeline on a file (or a synthetic 12 MP camera photo) and writes the result:
//! `cargo run -p xiaowu-photo --example process_photo -- [IN] OUT.jpg`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match args.as_slice() {
        [out] => (test_kit::photos::camera_photo(4000, 3000, 6, true), out.clone()),
        [inp, out] => (std::fs::read(inp).expect("input readable"), out.clone()),
        _ => panic!("usage: process_photo [IN] OUT.jpg"),
    };
    let wm = xiaowu_photo::Watermark::for_service("教师资格认定确认", "2026-11-22");
    let t = std::time::Instant::now();
    let out = xiaowu_photo::process(&input, &wm, &Default::default()).expect("processed");
    eprintln!("{}×{} in {:?}, sha256 {}", out.width, out.height, t.elapsed(), out.sha256_result);
    std::fs::write(&output, &out.jpeg).expect("output writable");
}
