//! `evalgen --seed N --out DIR --corpora DIR`: writes the labelled campaign
//! evaluation set (see README.md).

fn main() {
    let result = evalgen::options().and_then(|o| {
        let g = evalgen::generate(&o)?;
        println!(
            "{} campaign messages in {} campaigns, {} background messages, seed {}",
            g.campaign_messages, g.campaigns, g.background, o.seed
        );
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("evalgen: {e}");
        std::process::exit(2);
    }
}
