use propensity::cdnow::{self, models::*};
fn main() {
    let raw = cdnow::read("../../data/CDNOW_master.txt").unwrap();
    let c = cdnow::Customers::build(&cdnow::customer_days(&raw), &cdnow::Protocol::default()).unwrap();
    for arch in ChurnArchitecture::ALL {
        let cfg = ChurnConfig { architecture: arch, ..Default::default() };
        let o = churn_out_of_fold(&c, &cfg).unwrap();
        println!("{arch:?} {:?} epochs {:?} {:.1}s", o.scores().unwrap(), o.epochs, o.seconds);
    }
    let s = spend_out_of_fold(&c, &SpendConfig::default()).unwrap();
    println!("spend {:?} epochs {:?} {:.1}s", s.regression().unwrap(), s.epochs, s.seconds);
}
