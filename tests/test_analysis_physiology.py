"""Built-in physiological-uptake detectors (no organ masks): position priors and ceilings."""

from __future__ import annotations

from nenscope.analysis.physiology import ComponentInfo, classify_physiological
from nenscope.analysis.rules import physiological_rules

LIVER_Z = (-145.0, 49.0)  # body-relative mm, as the pipeline measures it
LIVER_SUV = 8.0


def comp(label, vol, x, y, z, half_z, suv_max):
    return ComponentInfo(label, vol, x, y, z, z - half_z, z + half_z, suv_max)


def kidneys():
    # right (patient right = -x) and left kidney, posterior, below the liver's top
    return [
        comp(1, 150.0, -65.0, 56.0, -95.0, 50.0, 13.0),
        comp(2, 150.0, 65.0, 56.0, -85.0, 50.0, 13.0),
    ]


def classify(comps):
    ratios = {r.auto: r.max_liver_ratio for r in physiological_rules("sstr") if r.max_liver_ratio}
    return classify_physiological(
        comps,
        {"kidney", "adrenal", "uncinate", "pituitary"},
        liver_z_range_mm=LIVER_Z,
        liver_suv=LIVER_SUV,
        gland_max_liver_ratio=ratios,
    )


def test_sstr_gland_rules_come_from_the_data_file():
    rules = {r.auto: r for r in physiological_rules("sstr") if r.max_liver_ratio}
    assert set(rules) == {"adrenal", "uncinate", "pituitary", "pancreas"}
    # from the published physiological uptake (issue 15: adrenal SUVmax is often 1.5-2 x the
    # liver's, Kuyumcu 2013), not the old 1.5 x liver for every gland
    assert rules["adrenal"].max_liver_ratio == 2.5 and "Kuyumcu" in rules["adrenal"].citation
    assert rules["uncinate"].max_liver_ratio == 2.0 and "Jacobsson" in rules["uncinate"].citation
    assert rules["pancreas"].max_liver_ratio < 1.0  # the gland is below the liver


def test_adrenal_uncinate_pituitary_at_their_sites_are_physiological():
    comps = kidneys() + [
        comp(3, 3.0, -45.0, 48.0, -30.0, 15.0, 9.0),  # right adrenal, above the upper pole
        comp(4, 3.0, -22.0, 24.0, -100.0, 8.0, 6.5),  # uncinate, anterior-medial to the kidney
        comp(5, 0.6, 2.0, 10.0, 420.0, 4.0, 8.0),  # pituitary, in the skull
    ]
    found = classify(comps)
    assert found == {
        1: "kidney (auto)",
        2: "kidney (auto)",
        3: "adrenal gland (auto)",
        4: "uncinate process (auto)",
        5: "pituitary (auto)",
    }


def test_hot_or_misplaced_foci_stay_lesions():
    comps = kidneys() + [
        comp(3, 3.0, -45.0, 48.0, -30.0, 15.0, 30.0),  # adrenal site, 3.75 x liver: metastasis
        comp(4, 3.0, -22.0, 24.0, -100.0, 8.0, 20.0),  # pancreatic head NET hotter than liver
        comp(6, 3.0, 40.0, -60.0, -200.0, 8.0, 8.0),  # anterior pelvic node, liver-like
        comp(7, 3.0, -22.0, 24.0, -260.0, 8.0, 6.0),  # below the kidneys: not the uncinate
    ]
    found = classify(comps)
    assert found == {1: "kidney (auto)", 2: "kidney (auto)"}


def test_nodes_near_the_uncinate_process_stay_lesions():
    # nodal metastases the uncinate prior once took for the gland (virtual cohort seeds
    # 305, 307 and 504): a para-aortic node 38 mm below the renal hilum and a mesenteric node
    # 61 mm in front of the kidney, both with liver-like uptake after partial-volume loss
    comps = kidneys() + [
        comp(3, 2.3, -22.0, 27.0, -133.0, 6.0, 8.1),
        comp(4, 1.6, -11.0, -5.0, -105.0, 4.0, 4.8),
        comp(5, 2.0, -22.0, 22.0, -90.0, 6.0, 6.3),  # the gland itself, at the hilum
        # seed 504: a 12 mm node (SUV 16, smoothed maximum 6.3) 21 mm below the hilum level
        comp(6, 1.0, -15.0, 23.0, -116.0, 4.0, 6.3),
    ]
    assert classify(comps) == {1: "kidney (auto)", 2: "kidney (auto)", 5: "uncinate process (auto)"}


def test_pancreatic_body_lesion_in_front_of_the_left_kidney_is_no_adrenal():
    # virtual cohort seed 519: a 10 mm pancreatic-body NET (smoothed SUVmax 5.7, liver-like
    # after partial-volume loss) 30 mm in front of the left kidney, 14 mm below its upper
    # pole; the left adrenal caps the pole, about 10 mm in front of the kidney's centroid
    comps = kidneys() + [
        comp(3, 0.5, 36.0, 26.0, -49.0, 4.0, 5.7),
        comp(4, 3.0, 44.0, 46.0, -13.0, 10.0, 6.5),  # the left adrenal itself
    ]
    assert classify(comps) == {1: "kidney (auto)", 2: "kidney (auto)", 4: "adrenal gland (auto)"}


def test_gland_detectors_need_the_kidneys_as_anchor():
    found = classify([comp(3, 3.0, -45.0, 48.0, -30.0, 15.0, 9.0)])
    assert found == {}


def test_bladder_is_the_largest_hot_pelvic_structure():
    """Seed 515: a 16 ml sacral metastasis (SUVmax 34) hotter than a 131 ml bladder (29)."""
    pelvis_z = LIVER_Z[0] - 250.0
    comps = kidneys() + [
        comp(3, 16.0, -10.0, 60.0, pelvis_z, 12.0, 34.4),  # bone metastasis
        comp(4, 131.0, -6.0, 20.0, pelvis_z - 10.0, 30.0, 28.9),  # urine
        comp(5, 300.0, 20.0, -40.0, pelvis_z + 60.0, 60.0, 3.0),  # bowel, large and cool
    ]
    found = classify_physiological(comps, {"kidney", "bladder"}, liver_z_range_mm=LIVER_Z)
    assert found == {1: "kidney (auto)", 2: "kidney (auto)", 4: "urinary bladder (auto)"}
    # without the urine, the metastasis is the only hot candidate: it is taken for it (the
    # prior cannot tell), but a large cool bowel loop never is
    found = classify_physiological(comps[:3] + comps[4:], {"bladder"}, liver_z_range_mm=LIVER_Z)
    assert found == {3: "urinary bladder (auto)"}


def test_a_posterior_liver_metastasis_in_front_of_the_kidney_is_no_kidney():
    # seed 303 on FDG: a 33 mm right-lobe metastasis delineated at 41 ml, 118 mm right of the
    # midline and 12 mm behind the body centre, 41 mm in front of the right kidney
    met = comp(3, 41.0, -118.0, 12.0, -3.0, 20.0, 4.7)
    found = classify([*kidneys(), met])
    assert found == {1: "kidney (auto)", 2: "kidney (auto)"}
    # on its own (a single left kidney) the same focus still passes the position prior
    assert classify([kidneys()[1], met]) == {2: "kidney (auto)", 3: "kidney (auto)"}


def _with_mean(c: ComponentInfo, suv_mean: float) -> ComponentInfo:
    return ComponentInfo(**{**c.__dict__, "suv_mean": suv_mean})


def test_a_third_kidney_much_hotter_than_the_pair_is_no_kidney():
    # follow-up pair 6: a 33 mm K4 liver metastasis above the right kidney, 57 ml above the
    # threshold, 17 mm in front of the right kidney (component means 18.2 vs 9.8 and 10.3)
    right, left = kidneys()
    right, left = _with_mean(right, 10.3), _with_mean(left, 9.8)
    met = _with_mean(comp(3, 57.0, -101.0, 43.0, -27.0, 25.0, 40.1), 18.2)
    assert classify([right, left, met]) == {1: "kidney (auto)", 2: "kidney (auto)"}
    # a third candidate with the pair's uptake (a kidney cut in two by noise, the spleen on
    # 177Lu SPECT) and a cooler one (a kidney with little function) are left alone
    like = _with_mean(met, 12.0)
    assert set(classify([right, left, like])) == {1, 2, 3}
    cool = _with_mean(right, 5.0)
    assert set(classify([cool, left, like])) == {1, 2, 3}
    # with two candidates nothing is compared (a kidney fused with a hot NET, one kidney
    # after nephrectomy beside a metastasis)
    assert set(classify([left, met])) == {2, 3}
